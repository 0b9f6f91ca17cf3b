/**
 * Pekko Cluster Sharding of model partitions: each GPU or CPU worker is a shard entity owning a
 * tensor/pipeline partition of a model; the partition planner; collectives (all-reduce,
 * stage-to-stage send) over the actor transport.
 */
package dev.kvasir.sharding;
