package dev.kvasir.cluster.routing;

import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RejectCode;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.RouterMetrics;
import dev.kvasir.cluster.gateway.GatewayMetrics;
import dev.kvasir.sharding.ReplicaService;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * A gateway's entry to the model: it looks like one {@link dev.kvasir.actors.RequestRouter} (the
 * gateway sends it {@link RouterCommand}s) but spreads requests over every replica in the cluster.
 * Replicas are found through the Receptionist ({@link ReplicaService#KEY}); their load is polled
 * with {@link RouterCommand.GetMetrics}; the {@link ReplicaChooser} picks one per request; a
 * {@link RequestRelay} child follows each request, and moves it to another replica when its replica
 * is lost (unreachable, removed, or its router stopped), continuing the stream where it stopped.
 *
 * <p>{@code GetMetrics} and {@code CheckBlocks} answer for this node's own replica (the node's
 * {@code /metrics} shows its own engine; a gateway-only node shows none), so that each node's
 * Prometheus endpoint stays about that node.
 */
public final class ReplicaRouter extends AbstractBehavior<Object> {

    private enum Poll { INSTANCE }

    private record Listing(Set<ActorRef<RouterCommand>> replicas) {
    }

    private record Report(ActorRef<RouterCommand> replica, RouterMetrics metrics) {
    }

    private record RelayDone(String requestId) {
    }

    /** A relay lost its replica and asks for another, not one of {@code lost}. */
    record Reassign(ActorRef<Object> relay, List<ActorRef<RouterCommand>> lost, int[] prompt) {
    }

    /** The answer to {@link Reassign}: the replica to continue on, or null when none is left. */
    record Assigned(ActorRef<RouterCommand> replica) {
    }

    /**
     * This node's own replicas, told directly when they start (the Receptionist's listing follows a
     * moment later), so the node takes requests as soon as it says it is ready; answered with {@code Done}.
     */
    public record AddLocal(List<ActorRef<RouterCommand>> replicas, ActorRef<Done> ack) {
    }

    /** Told to every relay when a replica is lost; those running on it move. */
    record ReplicaLost(ActorRef<RouterCommand> replica, String why) {
    }

    private static final class Replica {
        final ActorRef<RouterCommand> ref;
        final Address address;
        RouterMetrics metrics;
        int pending;
        /** Added directly by this node: stays until it deregisters (a listing from before its registration may lack it). */
        boolean local;
        boolean listed;
        boolean reachable = true;

        Replica(ActorRef<RouterCommand> ref, Address address) {
            this.ref = ref;
            this.address = address;
        }

        double load() {
            return pending + (metrics == null ? 0 : metrics.running() + metrics.waiting());
        }

        double kvUsage() {
            return metrics == null || metrics.kvBlocksTotal() == 0 ? 0 : (double) metrics.kvBlocksUsed() / metrics.kvBlocksTotal();
        }
    }

    private final ReplicaChooser chooser;
    private final GatewayMetrics gatewayMetrics;
    private final Address selfAddress;
    private final String wirePrefix = "gw" + UUID.randomUUID().toString().substring(0, 8);
    private final Map<ActorRef<RouterCommand>, Replica> replicas = new LinkedHashMap<>();
    private final Map<String, ActorRef<Object>> relays = new HashMap<>();
    private long requests;

    public static Behavior<Object> create(RoutingSettings settings, int blockSize, GatewayMetrics metrics) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Poll.INSTANCE, settings.loadPollInterval());
            return new ReplicaRouter(ctx, new ReplicaChooser(blockSize, settings.affinitySlack(), settings.kvHighWater()), metrics);
        }));
    }

    private ReplicaRouter(ActorContext<Object> ctx, ReplicaChooser chooser, GatewayMetrics metrics) {
        super(ctx);
        this.chooser = chooser;
        this.gatewayMetrics = metrics;
        Cluster cluster = Cluster.get(ctx.getSystem());
        this.selfAddress = cluster.selfMember().address();
        ActorRef<Receptionist.Listing> listings = ctx.messageAdapter(Receptionist.Listing.class,
                l -> new Listing(l.getServiceInstances(ReplicaService.KEY)));
        ctx.getSystem().receptionist().tell(Receptionist.subscribe(ReplicaService.KEY, listings));
        cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().narrow(), ClusterEvent.ReachabilityEvent.class));
        cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().narrow(), ClusterEvent.MemberRemoved.class));
    }

    /** The gateway's view of this actor. */
    public static ActorRef<RouterCommand> asRouter(ActorRef<Object> ref) {
        return ref.narrow();
    }

    @Override
    public Receive<Object> createReceive() {
        return newReceiveBuilder()
                .onMessage(RouterCommand.Submit.class, this::onSubmit)
                .onMessage(RouterCommand.Cancel.class, this::onCancel)
                .onMessage(RouterCommand.GetMetrics.class, this::onGetMetrics)
                .onMessage(RouterCommand.CheckBlocks.class, this::onCheckBlocks)
                .onMessage(Listing.class, this::onListing)
                .onMessage(AddLocal.class, this::onAddLocal)
                .onMessage(Poll.class, p -> poll())
                .onMessage(Report.class, this::onReport)
                .onMessage(Reassign.class, this::onReassign)
                .onMessage(RelayDone.class, d -> {
                    relays.remove(d.requestId());
                    return this;
                })
                .onMessage(ClusterEvent.UnreachableMember.class, e -> memberLost(e.member().address(), "node " + e.member().address() + " is unreachable", false))
                .onMessage(ClusterEvent.ReachableMember.class, e -> reachable(e.member().address()))
                .onMessage(ClusterEvent.MemberRemoved.class, e -> memberLost(e.member().address(), "node " + e.member().address() + " left the cluster", true))
                .build();
    }

    // ---- requests ------------------------------------------------------------------------------

    private Behavior<Object> onSubmit(RouterCommand.Submit s) {
        if (relays.containsKey(s.requestId())) {
            s.replyTo().tell(new GenerationEvent.Rejected(s.requestId(), RejectCode.INVALID_REQUEST,
                    "request id '" + s.requestId() + "' is already in use"));
            return this;
        }
        Replica target = pick(s.promptTokens(), List.of());
        if (target == null) {
            s.replyTo().tell(new GenerationEvent.Rejected(s.requestId(), RejectCode.OVERLOADED,
                    "no replica of the model is reachable from this node: retry shortly or send the request to another node"));
            return this;
        }
        String name = "relay-" + requests;
        ActorRef<Object> relay = getContext().spawn(RequestRelay.create(s, target.ref, wirePrefix + "-" + requests, getContext().getSelf(),
                gatewayMetrics), name);
        getContext().watchWith(relay, new RelayDone(s.requestId()));
        relays.put(s.requestId(), relay);
        return this;
    }

    private Behavior<Object> onCancel(RouterCommand.Cancel c) {
        ActorRef<Object> relay = relays.get(c.requestId());
        if (relay != null) relay.tell(c);
        return this;
    }

    private Behavior<Object> onReassign(Reassign r) {
        Replica target = pick(r.prompt(), r.lost());
        r.relay().tell(new Assigned(target == null ? null : target.ref));
        return this;
    }

    private Replica pick(int[] prompt, List<ActorRef<RouterCommand>> excluded) {
        List<Replica> usable = new ArrayList<>();
        List<ReplicaChooser.Candidate> candidates = new ArrayList<>();
        for (Replica r : replicas.values()) {
            if (!r.reachable || excluded.contains(r.ref)) continue;
            usable.add(r);
            candidates.add(new ReplicaChooser.Candidate(r.ref.path().name(), r.load(), r.kvUsage()));
        }
        int i = chooser.choose(candidates, prompt, requests++);
        if (i < 0) return null;
        Replica chosen = usable.get(i);
        chosen.pending++;
        return chosen;
    }

    // ---- replicas and their load ----------------------------------------------------------------

    private Behavior<Object> onAddLocal(AddLocal a) {
        for (ActorRef<RouterCommand> ref : a.replicas()) {
            Replica r = replicas.computeIfAbsent(ref, k -> new Replica(k, selfAddress));
            r.local = true;
        }
        published();
        a.ack().tell(Done.getInstance());
        return this;
    }

    private Behavior<Object> onListing(Listing l) {
        for (ActorRef<RouterCommand> ref : l.replicas()) {
            Replica r = replicas.get(ref);
            if (r == null) {
                Address a = ref.path().address();
                r = new Replica(ref, a.hasLocalScope() ? selfAddress : a);
                replicas.put(ref, r);
                getContext().getLog().info("replica {} joined ({} now)", ref.path(), replicas.size());
            }
            r.listed = true;
        }
        // A deregistered replica takes no new requests; those it runs end normally, or move when it stops.
        replicas.values().removeIf(r -> {
            boolean gone = !l.replicas().contains(r.ref) && (r.listed || !r.local);
            if (gone) getContext().getLog().info("replica {} deregistered", r.ref.path());
            return gone;
        });
        published();
        return this;
    }

    private void published() {
        int reachable = 0;
        for (Replica r : replicas.values()) if (r.reachable) reachable++;
        gatewayMetrics.replicas(reachable);
    }

    private Behavior<Object> poll() {
        for (Replica r : replicas.values()) {
            if (!r.reachable) continue;
            ActorRef<RouterCommand> ref = r.ref;
            getContext().ask(RouterMetrics.class, ref, Duration.ofSeconds(2), RouterCommand.GetMetrics::new,
                    (m, failure) -> new Report(ref, m));
        }
        return this;
    }

    private Behavior<Object> onReport(Report r) {
        Replica replica = replicas.get(r.replica());
        if (replica != null && r.metrics() != null) {
            replica.metrics = r.metrics();
            // The report counts what was sent before it was taken (near enough: a few in flight are missed once).
            replica.pending = 0;
        }
        return this;
    }

    private Behavior<Object> memberLost(Address address, String why, boolean removed) {
        List<Replica> lost = new ArrayList<>();
        for (Replica r : replicas.values()) if (r.address.equals(address)) lost.add(r);
        for (Replica r : lost) {
            if (removed) replicas.remove(r.ref);
            if (!r.reachable && !removed) continue;
            boolean wasReachable = r.reachable;
            r.reachable = false;
            if (wasReachable) {
                gatewayMetrics.replicaLost();
                getContext().getLog().warn("replica {} lost: {}", r.ref.path(), why);
            }
            for (ActorRef<Object> relay : relays.values()) relay.tell(new ReplicaLost(r.ref, why));
        }
        published();
        return this;
    }

    private Behavior<Object> reachable(Address address) {
        for (Replica r : replicas.values()) {
            if (r.address.equals(address) && !r.reachable) {
                r.reachable = true;
                getContext().getLog().info("replica {} reachable again", r.ref.path());
            }
        }
        published();
        return this;
    }

    // ---- this node's engine -------------------------------------------------------------------

    private ActorRef<RouterCommand> localReplica() {
        for (Replica r : replicas.values()) if (r.address.equals(selfAddress)) return r.ref;
        return null;
    }

    private Behavior<Object> onGetMetrics(RouterCommand.GetMetrics m) {
        ActorRef<RouterCommand> local = localReplica();
        if (local != null) local.tell(m);
        else m.replyTo().tell(RouterMetricsZero.INSTANCE);
        return this;
    }

    private Behavior<Object> onCheckBlocks(RouterCommand.CheckBlocks c) {
        ActorRef<RouterCommand> local = localReplica();
        if (local != null) local.tell(c);
        return this;
    }
}
