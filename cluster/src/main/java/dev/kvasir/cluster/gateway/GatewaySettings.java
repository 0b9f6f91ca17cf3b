package dev.kvasir.cluster.gateway;

import com.typesafe.config.Config;

import java.time.Duration;

/**
 * The gateway's settings, HOCON {@code kvasir.gateway.*} (see the cluster module's reference.conf).
 *
 * @param maxBodyBytes             largest HTTP request body; larger ones get 413
 * @param maxFrameChars            largest WebSocket text frame; larger ones get an error frame
 * @param maxRequestsPerConnection requests one WebSocket may have running at once
 * @param outboundBufferFrames     frames a WebSocket may have waiting for a slow reader; beyond, it is closed
 * @param healthProbeTimeout       how long {@code /health} waits for its one-token probe generation
 * @param drainTimeout             how long shutdown waits for running requests to finish
 */
public record GatewaySettings(String host, int port, long maxBodyBytes, int maxFrameChars, int maxRequestsPerConnection,
                              int outboundBufferFrames, Duration healthProbeTimeout, Duration drainTimeout) {

    public static GatewaySettings fromConfig(Config root) {
        Config c = root.getConfig("kvasir.gateway");
        return new GatewaySettings(c.getString("host"), c.getInt("port"), c.getBytes("max-body-size"),
                (int) Math.min(Integer.MAX_VALUE, c.getBytes("max-frame-size")), c.getInt("max-requests-per-connection"),
                c.getInt("outbound-buffer-frames"), c.getDuration("health-probe-timeout"), c.getDuration("drain-timeout"));
    }

    public GatewaySettings withPort(int p) {
        return new GatewaySettings(host, p, maxBodyBytes, maxFrameChars, maxRequestsPerConnection, outboundBufferFrames,
                healthProbeTimeout, drainTimeout);
    }
}
