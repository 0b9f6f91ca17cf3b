package dev.kvasir.cluster.node;

import com.typesafe.config.Config;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.ServingConfig;
import dev.kvasir.cluster.gateway.GatewayMetrics;
import dev.kvasir.cluster.gateway.GatewaySettings;
import dev.kvasir.cluster.gateway.HttpGateway;
import dev.kvasir.cluster.gateway.InFlight;
import dev.kvasir.cluster.gateway.ModelHolder;
import dev.kvasir.cluster.gateway.ServedModel;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.cluster.routing.ReplicaRouter;
import dev.kvasir.cluster.routing.RoutingSettings;
import dev.kvasir.sharding.ServingNode;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One Kvasir node serving one model: an actor system (a cluster member: of one, or joined through the
 * configured seed nodes), the HTTP/WebSocket gateway with its {@link ReplicaRouter}, and — on a node
 * with the {@code worker} role — one serving core (replica) per configured device. The gateway binds first and answers 503 while the model loads on a thread of
 * its own. Shutdown goes through Pekko's CoordinatedShutdown (also on SIGTERM): stop accepting
 * (unbind, refuse new requests), let running requests finish up to {@code kvasir.gateway.drain-timeout},
 * close the connections, then stop the engine and release the model.
 */
public final class KvasirNode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KvasirNode.class);

    /** What to serve: a model path (null = the embedded default) and the public id (null = from the path). */
    public record ModelChoice(Path path, String servedName) {
    }

    private final ActorSystem<Void> system;
    private final ModelHolder models;
    private final InFlight inFlight;
    private final ServerBinding binding;
    private final CompletableFuture<ServedModel> ready = new CompletableFuture<>();
    private final List<ServingNode> engines = new CopyOnWriteArrayList<>();
    private volatile LoadedModel loaded;

    private KvasirNode(ActorSystem<Void> system, ModelHolder models, InFlight inFlight, ServerBinding binding) {
        this.system = system;
        this.models = models;
        this.inFlight = inFlight;
        this.binding = binding;
    }

    public static KvasirNode start(Config config, ModelChoice choice) {
        GatewaySettings settings = GatewaySettings.fromConfig(config);
        ServingConfig serving = ServingConfig.fromConfig(config);
        NodeBackend backend = NodeBackend.fromConfig(config, ClusterMembership.hasWorkerRole(config));
        List<String> devices = backend.devices();
        boolean synthetic = choice.path() == null;
        String id = choice.servedName() != null && !choice.servedName().isBlank() ? choice.servedName()
                : synthetic ? DefaultModel.ID : idFromPath(choice.path());
        ModelHolder models = new ModelHolder(id, synthetic ? DefaultModel.DESCRIPTION : "served from " + choice.path().toAbsolutePath(), synthetic);

        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "kvasir", config);
        InFlight inFlight = new InFlight();
        GatewayMetrics metrics = new GatewayMetrics();
        ServerBinding binding;
        ActorRef<Object> replicaRouter;
        try {
            ClusterMembership.join(system);
            replicaRouter = system.systemActorOf(ReplicaRouter.create(RoutingSettings.fromConfig(config), serving.blockSize(), metrics),
                    "kvasir-replica-router", Props.empty());
            HttpGateway gateway = new HttpGateway(system, settings, models, inFlight, metrics, serving.maxRunning());
            binding = gateway.bind().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException | InterruptedException | RuntimeException e) {
            system.terminate();
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException("cannot listen on " + settings.host() + ":" + settings.port() + ": " + cause.getMessage(), cause);
        }
        KvasirNode node = new KvasirNode(system, models, inFlight, binding);
        node.registerShutdown(settings.drainTimeout());
        boolean worker = ClusterMembership.isWorker(system);
        log.info("gateway listening on http://{}:{} (model '{}' loading); cluster roles {}{}", settings.host(), node.port(), id,
                ClusterMembership.roles(system), worker ? ", devices " + devices : "");
        String nodeName = ClusterMembership.nodeName(system);
        List<String> replicas = worker ? devices : List.of();
        Thread loader = new Thread(() -> node.load(choice.path(), serving, backend, nodeName, replicas, replicaRouter), "kvasir-model-loader");
        loader.setDaemon(true);
        loader.start();
        return node;
    }

    private static String idFromPath(Path p) {
        String name = p.toAbsolutePath().normalize().getFileName().toString();
        if (name.equals("hf") && p.toAbsolutePath().normalize().getParent() != null) {
            name = p.toAbsolutePath().normalize().getParent().getFileName() + "-hf";
        }
        return name.endsWith(".gguf") ? name.substring(0, name.length() - 5) : name;
    }

    /**
     * Loads the model: every node needs its tokenizer and chat template (the gateway encodes prompts);
     * a worker also serves one replica per device, which registers with the Receptionist for the
     * gateways of the whole cluster. The gateway routes through {@code router}, its replica router.
     */
    private void load(Path path, ServingConfig serving, NodeBackend backend, String nodeName, List<String> devices,
                      ActorRef<Object> router) {
        try {
            Path file = path;
            if (file == null) {
                file = DefaultModel.ensure(DefaultModel.cacheDir());
                log.info("no --model given: serving the embedded default model '{}' from {} ({})", models.id(), file, DefaultModel.DESCRIPTION);
            }
            long t0 = System.nanoTime();
            LoadedModel model = LoadedModel.open(file);
            loaded = model;
            List<String> replicas = devices.stream().map(d -> nodeName + "-" + d).toList();
            for (String device : devices) {
                engines.add(ServingNode.start(system, model, serving, nodeName + "-" + device, backend.factory(device)));
            }
            // The replica router knows this node's replicas before the node says it is ready.
            List<ActorRef<RouterCommand>> local = engines.stream().map(ServingNode::router).toList();
            AskPattern.<Object, Done>ask(router, ack -> new ReplicaRouter.AddLocal(local, ack), Duration.ofSeconds(10), system.scheduler())
                    .toCompletableFuture().join();
            ServedModel served = ServedModel.of(models.id(), models.description(), models.synthetic(), model, ReplicaRouter.asRouter(router));
            models.ready(served);
            log.info("model '{}' ready in {} ms: context {} tokens, chat template {}, replicas here {}", models.id(),
                    (System.nanoTime() - t0) / 1_000_000, served.contextLength(), served.chatTemplate().isPresent() ? "yes" : "none",
                    replicas);
            ready.complete(served);
        } catch (RuntimeException | Error e) {
            String why = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            log.error("model '{}' failed to load: {}", models.id(), why);
            models.failed(why);
            ready.completeExceptionally(e);
        }
    }

    private void registerShutdown(Duration drainTimeout) {
        CoordinatedShutdown cs = CoordinatedShutdown.get(system);
        cs.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "kvasir-stop-accepting", () -> {
            log.info("shutting down: no new requests; {} running", inFlight.count());
            inFlight.startDraining();
            return binding.unbind().thenApply(x -> Done.getInstance());
        });
        cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "kvasir-drain", () ->
                inFlight.drained().toCompletableFuture()
                        .completeOnTimeout(null, drainTimeout.toMillis(), TimeUnit.MILLISECONDS)
                        .thenCompose(x -> {
                            if (inFlight.count() > 0) log.warn("drain timeout: closing with {} requests still running", inFlight.count());
                            else log.info("all requests finished");
                            return binding.terminate(Duration.ofSeconds(2));
                        })
                        .thenApply(x -> Done.getInstance()));
        cs.addTask(CoordinatedShutdown.PhaseServiceStop(), "kvasir-stop-engine", () -> {
            for (ServingNode n : engines) n.close();
            LoadedModel m = loaded;
            if (m != null) m.close();
            return CompletableFuture.completedFuture(Done.getInstance());
        });
    }

    /** The port the gateway listens on (useful with port 0). */
    public int port() {
        return binding.localAddress().getPort();
    }

    public ModelHolder models() {
        return models;
    }

    public InFlight inFlight() {
        return inFlight;
    }

    /** Completes when the model is loaded and serving; fails with the load error. */
    public CompletionStage<ServedModel> ready() {
        return ready;
    }

    /** The replica router the gateway uses (spreads over the cluster); only once {@link #ready()} has completed. */
    public ActorRef<RouterCommand> router() {
        return ready.join().router();
    }

    public ActorSystem<Void> system() {
        return system;
    }

    public CompletionStage<Done> terminated() {
        return system.getWhenTerminated();
    }

    /** Graceful shutdown (drains running requests); returns when the node has stopped. */
    @Override
    public void close() {
        CoordinatedShutdown.get(system).runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture().join();
        system.getWhenTerminated().toCompletableFuture().join();
    }
}
