package dev.kvasir.cluster.cli;

import com.typesafe.config.ConfigFactory;
import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.LocalShardGroup;
import dev.kvasir.actors.RequestRouter;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.ServingConfig;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.exec.StepExecutor;
import dev.kvasir.model.sampling.SamplingParams;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Generated tokens per second through the serving core (RequestRouter with continuous batching,
 * paged KV, the executor on its own thread) for bursts of concurrent requests: C requests of P
 * random prompt tokens and G new greedy tokens each, all submitted at once, timed from the first
 * submit to the last token (prefill included, as {@code transformers generate} is timed). The
 * caller runs untimed bursts first ({@code --warmup-bursts}), which capture the graphs and let the
 * JIT compile the serving core as it is in a server that has been running.
 */
final class ServingThroughput {
    private static final Logger log = LoggerFactory.getLogger(ServingThroughput.class);

    /** Per request: when it was submitted, its first token, its token count, done. */
    private static final class Tracker {
        final long submitted = System.nanoTime();
        volatile long firstToken;
        volatile int tokens;
        final CompletableFuture<Tracker> done = new CompletableFuture<>();
    }

    private final ActorSystem<Void> system;
    private final Map<String, Tracker> trackers = new ConcurrentHashMap<>();
    private final ActorRef<GenerationEvent> client;
    private final ActorRef<RouterCommand> router;
    private final LocalShardGroup group;
    private final int vocab;
    private final SplittableRandom random = new SplittableRandom(42);
    private int requests;

    ServingThroughput(LoadedModel model, StepExecutor executor, ServingConfig config) {
        this.system = ActorSystem.create(Behaviors.empty(), "bench", ConfigFactory.parseString(
                "pekko.actor.default-dispatcher.fork-join-executor.minimum-runnable = -1\npekko.loglevel = WARNING"));
        this.client = system.systemActorOf(client(trackers), "client", Props.empty());
        this.group = new LocalShardGroup(executor);
        this.router = system.systemActorOf(RequestRouter.create(config, group, executor.kvGeometry(), model.tokenizer(),
                model.weights().config().contextLength()), "router", Props.empty());
        this.vocab = model.tokenizer().vocabSize();
    }

    private static Behavior<GenerationEvent> client(Map<String, Tracker> trackers) {
        return Behaviors.receive((ctx, e) -> {
            Tracker t = trackers.get(e.requestId());
            switch (e) {
                case GenerationEvent.Token tok -> {
                    if (t.firstToken == 0) t.firstToken = System.nanoTime();
                    t.tokens++;
                }
                case GenerationEvent.Finished f -> t.done.complete(t);
                case GenerationEvent.Rejected r -> t.done.completeExceptionally(new IllegalStateException(r.toString()));
                case GenerationEvent.Accepted a -> {
                }
            }
            return Behaviors.same();
        });
    }

    /** One burst of {@code concurrent} requests; the figures as a JSON-ready map. */
    Map<String, Object> burst(int concurrent, int promptTokens, int genTokens) {
        List<CompletableFuture<Tracker>> all = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < concurrent; i++) {
            int[] prompt = new int[promptTokens];
            prompt[0] = 1;
            for (int j = 1; j < promptTokens; j++) prompt[j] = 3 + random.nextInt(vocab - 3);
            String id = "b" + requests++;
            Tracker t = new Tracker();
            trackers.put(id, t);
            router.tell(RouterCommand.Submit.of(id, prompt, SamplingParams.greedy(), genTokens, client));
            all.add(t.done);
        }
        long tokens = 0;
        double ttft = 0;
        for (CompletableFuture<Tracker> f : all) {
            Tracker t = f.join();
            tokens += t.tokens;
            ttft += (t.firstToken - t.submitted) / 1e9;
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("concurrent", concurrent);
        o.put("prompt_tokens", promptTokens);
        o.put("gen_tokens", genTokens);
        o.put("generated_tokens", tokens);
        o.put("wall_s", Math.round(wall * 1000) / 1000.0);
        o.put("generated_tokens_per_second", Math.round(tokens / wall * 10) / 10.0);
        o.put("mean_ttft_s", Math.round(ttft / concurrent * 1000) / 1000.0);
        log.info("serving burst: {}", o);
        return o;
    }

    void close() {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().join();
        group.close();
    }
}
