package dev.kvasir.actors;

import dev.kvasir.model.exec.PendingStep;
import dev.kvasir.model.exec.StepExecutor;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A shard's steps with the next one queued on the device while the last one runs: {@link #execute}
 * submits on the caller's thread (the shard's compute thread, which owns the executor), and a thread
 * of its own waits for each step and answers the router, in submission order. A router that sends a
 * step before the last one's tokens are back (ServingConfig.queueAhead) so keeps the device busy;
 * one that waits for each answer gets the same answers as from {@link StepRunner#run}.
 */
public final class StepPipeline implements AutoCloseable {
    private final StepExecutor executor;
    private final ExecutorService answers;
    /** The step submitted last (null after a failure): what a continuing step continues from. */
    private PendingStep last;

    public StepPipeline(StepExecutor executor, String name) {
        this.executor = executor;
        this.answers = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name + "-answers");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts the command's step and returns; its outcome goes to the command's replyTo. Call from one thread. */
    public void execute(ExecutorCommand.ExecuteStep command) {
        StepRunner.Started started = StepRunner.start(executor, command, last);
        last = started.pending();
        answers.execute(() -> command.replyTo().tell(StepRunner.finish(executor, started)));
    }

    /** Lets the answers already queued go out (each waits for its step), then ends the thread. */
    @Override
    public void close() {
        answers.shutdown();
    }
}
