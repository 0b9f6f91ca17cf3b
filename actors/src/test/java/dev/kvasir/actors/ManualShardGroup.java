package dev.kvasir.actors;

import dev.kvasir.model.exec.StepExecutor;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A shard group whose steps run only when the test says so, on the test's thread: lets a test
 * hold the engine mid-request (to cancel, to fill the queue, to let a deadline pass) without sleeps.
 */
public final class ManualShardGroup implements ShardGroup {
    private final StepExecutor executor;
    private final BlockingQueue<ExecutorCommand.ExecuteStep> pending = new LinkedBlockingQueue<>();

    public ManualShardGroup(StepExecutor executor) {
        this.executor = executor;
    }

    @Override
    public void execute(ExecutorCommand.ExecuteStep command) {
        pending.add(command);
    }

    /** Waits for the router's next step and runs it. */
    public void runNext() throws InterruptedException {
        ExecutorCommand.ExecuteStep step = pending.poll(10, TimeUnit.SECONDS);
        if (step == null) throw new AssertionError("the router sent no step");
        step.replyTo().tell(StepRunner.run(executor, step));
    }

    /** Waits for the router's next step and holds it; returns it so the test can run it later. */
    public ExecutorCommand.ExecuteStep takeNext() throws InterruptedException {
        ExecutorCommand.ExecuteStep step = pending.poll(10, TimeUnit.SECONDS);
        if (step == null) throw new AssertionError("the router sent no step");
        return step;
    }

    public void run(ExecutorCommand.ExecuteStep step) {
        step.replyTo().tell(StepRunner.run(executor, step));
    }

    @Override
    public String describe() {
        return "manual";
    }
}
