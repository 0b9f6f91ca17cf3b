package dev.kvasir.tests.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A Kvasir node in a JVM process of its own on loopback, started as {@code deploy/local-cluster.sh}
 * starts one ({@code KvasirCli node --config config/local-cluster.conf --name … --roles … --port …}),
 * with the test's class path and a small heap. Output and logs go to {@code target/cluster-test/<name>/}.
 */
final class NodeProcess implements AutoCloseable {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final String name;
    final int httpPort;
    final int remotePort;
    final int managementPort;
    final Process process;

    private NodeProcess(String name, int httpPort, int remotePort, int managementPort, Process process) {
        this.name = name;
        this.httpPort = httpPort;
        this.remotePort = remotePort;
        this.managementPort = managementPort;
        this.process = process;
    }

    /** Starts a node; {@code seedPort} is the remoting port of the seed (its own for the first node). */
    static NodeProcess start(String name, String roles, int remotePort, int seedPort, Path model) {
        int http = freePort();
        int mgmt = freePort();
        Path root = projectRoot();
        Path dir = Path.of("target", "cluster-test", name).toAbsolutePath();
        try {
            Files.createDirectories(dir.resolve("logs"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xss4m", "-Xmx512m",
                "-XX:+UseSerialGC",
                "-Dlogback.configurationFile=" + root.resolve("config/logback.xml"),
                "-cp", cp, "dev.kvasir.cluster.cli.KvasirCli", "node",
                "--config", root.resolve("config/local-cluster.conf").toString(),
                "--name", name, "--roles", roles, "--model", model.toString(),
                "--port", String.valueOf(http), "--remote-port", String.valueOf(remotePort),
                "--management-port", String.valueOf(mgmt), "--seed-nodes", "127.0.0.1:" + seedPort, "--threads", "1"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("node.out").toFile());
        pb.environment().put("KVASIR_LOG_DIR", dir.resolve("logs").toString());
        try {
            return new NodeProcess(name, http, remotePort, mgmt, pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start node " + name, e);
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path projectRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("config/local-cluster.conf"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("config/local-cluster.conf not found above " + Path.of("").toAbsolutePath());
        return p;
    }

    /** Waits until the node is an Up member (/ready) and its gateway has the model (/v1/models). */
    void awaitReady(Instant deadline) {
        awaitUntil(deadline, "ready", () -> status(managementPort, "/ready") == 200 && status(httpPort, "/v1/models") == 200);
    }

    /** Waits until this node's gateway can route to {@code n} replicas. */
    void awaitReplicas(int n, Instant deadline) {
        awaitUntil(deadline, n + " replicas", () -> metric("kvasir_replicas_reachable") == n);
    }

    void awaitUntil(Instant deadline, String what, java.util.function.BooleanSupplier done) {
        while (!done.getAsBoolean()) {
            if (!process.isAlive()) throw new IllegalStateException("node " + name + " exited (" + process.exitValue() + "); see target/cluster-test/" + name);
            if (Instant.now().isAfter(deadline)) throw new IllegalStateException("node " + name + " not " + what + " in time");
            try {
                Thread.sleep(100); // polling interval, not synchronisation: the condition decides
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    /** A sample of a metric without labels on this node's /metrics; NaN when absent or unreachable. */
    double metric(String name) {
        String body = get(httpPort, "/metrics");
        if (body == null) return Double.NaN;
        Predicate<String> match = l -> l.startsWith(name + " ") || l.startsWith(name + "_total ");
        return body.lines().filter(match).mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElse(Double.NaN);
    }

    static int status(int port, String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    static String get(int port, String path) {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.body() : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** kill -9: the JVM gets no chance to leave the cluster or finish anything. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** SIGTERM (graceful: leave, drain), then kill -9 if it does not end in time. */
    @Override
    public void close() {
        if (!process.isAlive()) return;
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) kill();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill();
        }
    }
}
