package dev.kvasir.sharding;

/**
 * One shard of a model replica: pipeline stage {@code stage} and tensor rank {@code rank} of
 * replica {@code replica}. Its entity id in Cluster Sharding is {@code replica/pp<stage>/tp<rank>}.
 */
public record ShardId(String replica, int stage, int rank) {
    public ShardId {
        if (replica == null || replica.isEmpty() || replica.contains("/")) throw new IllegalArgumentException("bad replica name: " + replica);
        if (stage < 0 || rank < 0) throw new IllegalArgumentException("stage and rank must be >= 0");
    }

    public String entityId() {
        return replica + "/pp" + stage + "/tp" + rank;
    }
}
