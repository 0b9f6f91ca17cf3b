package dev.kvasir.sharding;

import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.dispatch.Futures;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;

import java.util.Map;
import java.util.Set;

/**
 * Shard allocation for shards that are devices: a shard lives on the node that owns its device, never
 * anywhere else. Each shard entity has a shard of its own (shard id = entity id), and the only region
 * that ever asks for it is the one on its device's node — its replica's router lives there and sends
 * the first step — so the shard goes to the requester. Rebalancing would move a device's state to a
 * node without the device, so there is none.
 */
final class DeviceBoundAllocation extends ShardCoordinator.AbstractShardAllocationStrategy {

    @Override
    public Future<ActorRef> allocateShard(ActorRef requester, String shardId, Map<ActorRef, IndexedSeq<String>> current) {
        return Futures.successful(requester);
    }

    @Override
    public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> current, Set<String> inProgress) {
        return Futures.successful(Set.of());
    }
}
