package dev.kvasir.cluster.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The node's GPU settings, checked without a GPU (a gateway-only node needs no device). */
class NodeBackendTest {

    private static Config gpu(String extra) {
        return ConfigFactory.parseString("kvasir.node.backend = gpu\nkvasir.node.devices = [gpu0]\n" + extra)
                .withFallback(ConfigFactory.defaultReference()).resolve();
    }

    @Test
    void kvCacheDtypeDefaultsToAutoAndTakesTheKnownTypes() {
        assertEquals("auto", NodeBackend.fromConfig(gpu(""), false).kvCacheDtype());
        for (String t : new String[]{"fp32", "fp16", "bf16", "int8", "fp8"}) {
            assertEquals(t, NodeBackend.fromConfig(gpu("kvasir.node.gpu.kv-cache-dtype = " + t), false).kvCacheDtype());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> NodeBackend.fromConfig(gpu("kvasir.node.gpu.kv-cache-dtype = int4"), false));
        assertTrue(e.getMessage().contains("kv-cache-dtype"), e.getMessage());
    }
}
