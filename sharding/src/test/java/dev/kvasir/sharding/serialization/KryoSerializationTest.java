package dev.kvasir.sharding.serialization;

import com.typesafe.config.ConfigFactory;
import dev.kvasir.actors.GenerationEvent;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.Serializable;
import java.lang.reflect.Array;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every message type that crosses nodes round-trips through Pekko's serialization on Kryo; Java serialization is off. */
class KryoSerializationTest {
    private static ActorTestKit kit;
    private static Serialization serialization;
    private static ActorRef<GenerationEvent> ref;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create("kryo", ConfigFactory.parseString("""
                pekko.actor.provider = cluster
                pekko.remote.artery.canonical.hostname = 127.0.0.1
                pekko.remote.artery.canonical.port = 0
                """).withFallback(ConfigFactory.load()));
        serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
        TestProbe<GenerationEvent> probe = kit.createTestProbe();
        ref = probe.ref();
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    void everyWireMessageRoundTripsThroughKryo() throws Exception {
        List<Class<?>> messages = new ArrayList<>();
        for (Class<?> c : WireClasses.all()) {
            if (!c.isRecord()) continue;
            Object sample = sample(c);
            Serializer s;
            try {
                s = serialization.findSerializerFor(sample);
            } catch (Exception componentOnly) {
                continue; // a component of a message (no binding of its own): it travels inside one
            }
            assertTrue(s instanceof KryoSerializer, c + " is bound to " + s);
            messages.add(c);
            byte[] bytes = serialization.serialize(sample).get();
            String manifest = Serializers.manifestFor(s, sample);
            Object back = serialization.deserialize(bytes, s.identifier(), manifest).get();
            assertDeepEquals(sample, back, c.getSimpleName());
        }
        // the protocols of the serving core: client ↔ router, router ↔ shard
        for (String name : List.of("RouterCommand$Submit", "RouterCommand$Cancel", "GenerationEvent$Token",
                "GenerationEvent$Finished", "GenerationEvent$Rejected", "GenerationEvent$Accepted",
                "ExecutorCommand$ExecuteStep", "StepOutcome$Completed", "StepOutcome$Failed", "RouterMetrics")) {
            assertTrue(messages.stream().anyMatch(c -> c.getName().endsWith(name)), name + " is not a Kryo wire message: " + messages);
        }
    }

    @Test
    void actorRefsResolveBackToTheSameActor() throws Exception {
        Object submit = sample(dev.kvasir.actors.RouterCommand.Submit.class);
        Serializer s = serialization.findSerializerFor(submit);
        Object back = serialization.deserialize(serialization.serialize(submit).get(), s.identifier(), Serializers.manifestFor(s, submit)).get();
        ActorRef<GenerationEvent> resolved = ((dev.kvasir.actors.RouterCommand.Submit) back).replyTo();
        assertEquals(ref, resolved);
        assertTrue(s instanceof KryoSerializer);
    }

    /** A gateway moving a request to another replica sends the streamed tokens and the seed: both must arrive intact. */
    @Test
    void aResumedSubmitKeepsItsTokensAndSeed() throws Exception {
        var fresh = dev.kvasir.actors.RouterCommand.Submit.of("r", new int[]{1, 2, 3},
                dev.kvasir.model.sampling.SamplingParams.of(0.8f, 40, 0.9f, null), 50, ref);
        var resumed = fresh.resumed("r-a1", ref, fresh.sampling().withSeed(-42L), new int[]{9, 8, 7, 6});
        Serializer s = serialization.findSerializerFor(resumed);
        assertTrue(s instanceof KryoSerializer);
        var back = (dev.kvasir.actors.RouterCommand.Submit) serialization.deserialize(serialization.serialize(resumed).get(),
                s.identifier(), Serializers.manifestFor(s, resumed)).get();
        assertArrayEquals(new int[]{9, 8, 7, 6}, back.resumeTokens());
        assertEquals(-42L, back.sampling().seed());
        assertEquals("r-a1", back.requestId());
        assertEquals(ref, back.replyTo());
        assertArrayEquals(new int[0], fresh.resumeTokens());
    }

    record NotAWireMessage(String text) implements Serializable {
    }

    @Test
    void javaSerializationIsOff() {
        assertFalse(kit.system().settings().config().getBoolean("pekko.actor.allow-java-serialization"));
        Throwable t = assertThrows(Throwable.class, () -> serialization.serialize(new NotAWireMessage("x")).get());
        assertTrue(String.valueOf(t.getMessage()).toLowerCase().contains("java serialization"), t.toString());
    }

    @Test
    void unknownManifestsAreRefused() throws Exception {
        KryoSerializer s = (KryoSerializer) serialization.serializerFor(dev.kvasir.actors.RouterCommand.Cancel.class);
        org.junit.jupiter.api.function.Executable read = () -> s.fromBinary(new byte[]{1}, "java.lang.Runtime");
        assertThrows(java.io.NotSerializableException.class, read);
    }

    /** A value of {@code type} with every component filled (valid for the records' own checks). */
    private static Object sample(Class<?> type) throws Exception {
        if (type == int.class || type == Integer.class) return 7;
        if (type == long.class || type == Long.class) return 8L;
        if (type == float.class || type == Float.class) return 0.5f;
        if (type == double.class || type == Double.class) return 2.5;
        if (type == boolean.class || type == Boolean.class) return true;
        if (type == String.class) return "text ✓";
        if (type == Instant.class) return Instant.ofEpochSecond(1_700_000_000L, 42);
        if (type == ActorRef.class) return ref;
        if (type.isEnum()) return type.getEnumConstants()[0];
        if (type.isArray()) {
            Object a = Array.newInstance(type.getComponentType(), 2);
            Array.set(a, 0, sample(type.getComponentType()));
            Array.set(a, 1, sample(type.getComponentType()));
            return a;
        }
        if (type.isSealed() && !type.isRecord()) return sample(type.getPermittedSubclasses()[0]);
        if (type.isRecord()) {
            RecordComponent[] rc = type.getRecordComponents();
            Class<?>[] types = new Class<?>[rc.length];
            Object[] args = new Object[rc.length];
            for (int i = 0; i < rc.length; i++) {
                types[i] = rc[i].getType();
                if (rc[i].getType() == List.class) {
                    Class<?> element = (Class<?>) ((ParameterizedType) rc[i].getGenericType()).getActualTypeArguments()[0];
                    args[i] = List.of(sample(element));
                } else {
                    args[i] = sample(rc[i].getType());
                }
            }
            var ctor = type.getDeclaredConstructor(types);
            ctor.setAccessible(true);
            return ctor.newInstance(args);
        }
        throw new IllegalArgumentException("no sample for " + type);
    }

    private static void assertDeepEquals(Object expected, Object actual, String where) throws Exception {
        if (expected == null || actual == null) {
            assertEquals(expected, actual, where);
            return;
        }
        if (expected.getClass().isRecord()) assertEquals(expected.getClass(), actual.getClass(), where);
        if (expected.getClass().isArray()) {
            assertEquals(Array.getLength(expected), Array.getLength(actual), where);
            for (int i = 0; i < Array.getLength(expected); i++) assertDeepEquals(Array.get(expected, i), Array.get(actual, i), where + "[" + i + "]");
        } else if (expected instanceof List<?> le) {
            List<?> la = (List<?>) actual;
            assertEquals(le.size(), la.size(), where);
            for (int i = 0; i < le.size(); i++) assertDeepEquals(le.get(i), la.get(i), where + "[" + i + "]");
        } else if (expected.getClass().isRecord()) {
            for (RecordComponent rc : expected.getClass().getRecordComponents()) {
                rc.getAccessor().setAccessible(true);
                assertDeepEquals(rc.getAccessor().invoke(expected), rc.getAccessor().invoke(actual), where + "." + rc.getName());
            }
        } else {
            assertEquals(expected, actual, where);
        }
    }
}
