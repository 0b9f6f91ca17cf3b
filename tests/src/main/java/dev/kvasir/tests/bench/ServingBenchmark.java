package dev.kvasir.tests.bench;

import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.LocalShardGroup;
import dev.kvasir.actors.RequestRouter;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.RouterMetrics;
import dev.kvasir.actors.ServingConfig;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.cpu.ComputePool;
import dev.kvasir.model.cpu.CpuStepExecutor;
import dev.kvasir.model.cpu.LlamaCpuModel;
import dev.kvasir.model.sampling.SamplingParams;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import com.typesafe.config.ConfigFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Measures the serving core on one model (a synthetic one of a real shape is fine):
 * throughput at several concurrencies, continuous vs static batching on mixed output lengths,
 * time to first token with a shared prefix (prefix cache on vs off), KV waste. The router runs on
 * a local actor system with a {@link LocalShardGroup} (no cluster: the sharding hop is not what
 * is measured). Prints a Markdown table.
 *
 * <p>Usage: {@code ServingBenchmark MODEL.gguf [threads] [quick]}
 */
public final class ServingBenchmark {

    /** Per request: submit time, first token time, tokens, done. */
    static final class Tracker {
        final long submitted = System.nanoTime();
        volatile long firstToken;
        volatile int tokens;
        int finishedSamples;
        final int samples;
        final CompletableFuture<Tracker> done = new CompletableFuture<>();

        Tracker(int samples) {
            this.samples = samples;
        }

        double ttftSeconds() {
            return (firstToken - submitted) / 1e9;
        }
    }

    static Behavior<GenerationEvent> client(Map<String, Tracker> trackers) {
        return Behaviors.receive((ctx, e) -> {
            Tracker t = trackers.get(e.requestId());
            switch (e) {
                case GenerationEvent.Token tok -> {
                    if (t.firstToken == 0) t.firstToken = System.nanoTime();
                    t.tokens++;
                }
                case GenerationEvent.Finished f -> {
                    if (++t.finishedSamples == t.samples) t.done.complete(t);
                }
                case GenerationEvent.Rejected r -> t.done.completeExceptionally(new IllegalStateException(r.toString()));
                case GenerationEvent.Accepted a -> {
                }
            }
            return Behaviors.same();
        });
    }

    private final ActorSystem<Void> system;
    private final LoadedModel model;
    private final ComputePool pool;
    private final Map<String, Tracker> trackers = new ConcurrentHashMap<>();
    private final ActorRef<GenerationEvent> client;
    private int routers;
    private int requests;

    ServingBenchmark(LoadedModel model, int threads) {
        this.model = model;
        this.pool = new ComputePool(threads);
        this.system = ActorSystem.create(Behaviors.empty(), "bench", ConfigFactory.parseString(
                "pekko.actor.default-dispatcher.fork-join-executor.minimum-runnable = -1\npekko.loglevel = WARNING"));
        this.client = system.systemActorOf(client(trackers), "client", org.apache.pekko.actor.typed.Props.empty());
    }

    record Router(ActorRef<RouterCommand> ref, LocalShardGroup group) {
    }

    Router router(ServingConfig config) {
        var mc = model.weights().config();
        CpuStepExecutor executor = new CpuStepExecutor(new LlamaCpuModel(mc, model.weights().weights(), pool), config.blockSize(), config.kvBlocks());
        LocalShardGroup group = new LocalShardGroup(executor);
        ActorRef<RouterCommand> ref = system.systemActorOf(RequestRouter.create(config, group, executor.kvGeometry(), model.tokenizer(),
                mc.contextLength()), "router-" + routers++, org.apache.pekko.actor.typed.Props.empty());
        return new Router(ref, group);
    }

    void close(Router r) {
        system.classicSystem().stop(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(r.ref()));
        r.group().close();
    }

    CompletableFuture<Tracker> submit(Router r, int[] prompt, int maxTokens) {
        String id = "q" + requests++;
        Tracker t = new Tracker(1);
        trackers.put(id, t);
        r.ref().tell(RouterCommand.Submit.of(id, prompt, SamplingParams.greedy(), maxTokens, client));
        return t.done;
    }

    RouterMetrics metrics(Router r) {
        return AskPattern.<RouterCommand, RouterMetrics>ask(r.ref(), RouterCommand.GetMetrics::new, Duration.ofSeconds(30), system.scheduler())
                .toCompletableFuture().join();
    }

    static int[] prompt(Random random, int length, int vocab) {
        int[] p = new int[length];
        p[0] = 1;
        for (int i = 1; i < length; i++) p[i] = 3 + random.nextInt(vocab - 3);
        return p;
    }

    static List<Tracker> all(List<CompletableFuture<Tracker>> futures) {
        List<Tracker> out = new ArrayList<>();
        for (var f : futures) out.add(f.join());
        return out;
    }

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        boolean quick = args.length > 2 && args[2].equals("quick");
        try (LoadedModel model = LoadedModel.open(path)) {
            ServingBenchmark b = new ServingBenchmark(model, threads);
            try {
                b.run(quick);
            } finally {
                b.system.terminate();
                b.system.getWhenTerminated().toCompletableFuture().join();
                b.pool.close();
            }
        }
    }

    /**
     * Continuous batching (iteration-level admission, at most 8 running) against static batching
     * (request-level batches of 8, the next starting when the whole previous one is done) and padded
     * static batching (a model.generate call: every member generates until the batch's longest is
     * done, the extra tokens being padding, so only each request's own length counts as useful).
     */
    private void batching(StringBuilder out, ServingConfig base, String mix, int[] lengths, List<int[]> prompts, int maxOut) {
        int requests = lengths.length;
        out.append("\n| batching (").append(requests).append(" requests, outputs 16–").append(maxOut).append(' ').append(mix)
                .append(", mean ").append(java.util.Arrays.stream(lengths).sum() / requests)
                .append(", 8 at a time) | useful tokens | wall s | useful tok/s | KV waste |\n|---|---|---|---|---|\n");
        for (String mode : new String[]{"continuous", "static", "static, padded"}) {
            Router r = router(base.withQueues(1024, 8));
            long t0 = System.nanoTime();
            int tokens = 0;
            if (mode.equals("continuous")) {
                List<CompletableFuture<Tracker>> fs = new ArrayList<>();
                for (int i = 0; i < requests; i++) fs.add(submit(r, prompts.get(i), lengths[i]));
                tokens = all(fs).stream().mapToInt(t -> t.tokens).sum();
            } else {
                boolean padded = mode.endsWith("padded");
                for (int batch = 0; batch < requests / 8; batch++) {
                    int longest = 0;
                    for (int i = batch * 8; i < batch * 8 + 8; i++) longest = Math.max(longest, lengths[i]);
                    List<CompletableFuture<Tracker>> fs = new ArrayList<>();
                    for (int i = batch * 8; i < batch * 8 + 8; i++) fs.add(submit(r, prompts.get(i), padded ? longest : lengths[i]));
                    all(fs);
                    for (int i = batch * 8; i < batch * 8 + 8; i++) tokens += lengths[i];
                }
            }
            double wall = (System.nanoTime() - t0) / 1e9;
            RouterMetrics m = metrics(r);
            out.append("| %s | %d | %.2f | %.1f | %.1f%% |\n".formatted(mode, tokens, wall, tokens / wall, 100 * m.kvWaste()));
            close(r);
        }
    }

    void run(boolean quick) {
        int vocab = model.tokenizer().vocabSize();
        Random random = new Random(42);
        ServingConfig base = ServingConfig.defaults().withKvBlocks(1024).withMaxBatchedTokens(512).withQueues(1024, 64);
        StringBuilder out = new StringBuilder();
        out.append("model: ").append(model.weights().config()).append('\n');
        out.append("threads: ").append(pool.threads()).append("\n\n");

        // 1. throughput vs concurrency: prompts of 16 tokens, 32 new tokens each
        out.append("| concurrent requests | generated tokens | wall s | generated tok/s | steps | mean TTFT s |\n|---|---|---|---|---|---|\n");
        for (int c : quick ? new int[]{1, 4, 16} : new int[]{1, 4, 16, 64}) {
            Router r = router(base);
            long t0 = System.nanoTime();
            List<CompletableFuture<Tracker>> fs = new ArrayList<>();
            for (int i = 0; i < c; i++) fs.add(submit(r, prompt(random, 16, vocab), 32));
            List<Tracker> ts = all(fs);
            double wall = (System.nanoTime() - t0) / 1e9;
            int tokens = ts.stream().mapToInt(t -> t.tokens).sum();
            RouterMetrics m = metrics(r);
            out.append("| %d | %d | %.2f | %.1f | %d | %.3f |\n".formatted(c, tokens, wall, tokens / wall, m.steps(),
                    ts.stream().mapToDouble(Tracker::ttftSeconds).average().orElse(0)));
            close(r);
        }

        // 2. continuous vs static batching, batches of 8: output lengths spread evenly over 16..max, and
        // log-uniformly over the same range (right-skewed, as real output lengths are: many short
        // answers, a few long ones)
        int maxOut = quick ? 128 : 512;
        int requests = quick ? 16 : 32;
        int[] even = new int[requests];
        int[] skewed = new int[requests];
        for (int i = 0; i < requests; i++) {
            int k = (i * 7) % requests;
            even[i] = 16 + (int) ((long) (maxOut - 16) * k / (requests - 1));
            skewed[i] = (int) Math.round(16 * Math.pow(maxOut / 16.0, (double) k / (requests - 1)));
        }
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < requests; i++) prompts.add(prompt(random, 16, vocab));
        batching(out, base, "evenly spread", even, prompts, maxOut);
        batching(out, base, "log-uniform", skewed, prompts, maxOut);

        // 3. TTFT with a shared prefix, cache on vs off: one warm-up request, then 3 more one after another
        int prefixLength = Math.min(1000, model.weights().config().contextLength() - 24);
        int[] prefix = prompt(random, prefixLength, vocab);
        out.append("\n| prefix cache (").append(prefixLength).append("-token shared prefix) | first request TTFT s | later requests mean TTFT s | prefix hits / queries (tokens) | KV waste |\n|---|---|---|---|---|\n");
        for (boolean cache : new boolean[]{true, false}) {
            Router r = router(base.withPrefixCaching(cache));
            double first = 0;
            double later = 0;
            for (int i = 0; i < 4; i++) {
                int[] p = java.util.Arrays.copyOf(prefix, prefixLength + 8);
                for (int k = prefixLength; k < p.length; k++) p[k] = 3 + random.nextInt(vocab - 3);
                Tracker t = submit(r, p, 4).join();
                if (i == 0) first = t.ttftSeconds();
                else later += t.ttftSeconds() / 3;
            }
            RouterMetrics m = metrics(r);
            out.append("| %s | %.3f | %.3f | %d / %d | %.1f%% |\n".formatted(cache ? "on" : "off", first, later, m.prefixCacheHits(),
                    m.prefixCacheQueries(), 100 * m.kvWaste()));
            close(r);
        }
        System.out.println(out);
    }
}
