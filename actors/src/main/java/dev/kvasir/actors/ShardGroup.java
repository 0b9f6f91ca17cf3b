package dev.kvasir.actors;

/**
 * The shards that together hold one replica of a model: where a router sends its steps. Today a
 * group is one shard with the whole model (TP = 1, PP = 1); tensor or pipeline parallelism adds
 * members, each running its partition of the same step, with one member answering the router.
 * Implementations deliver asynchronously and never run compute on the caller's thread.
 */
public interface ShardGroup {

    /** Sends the step to every member; the answer arrives at {@code command.replyTo()}. */
    void execute(ExecutorCommand.ExecuteStep command);

    /** For logs: which shards these are. */
    String describe();
}
