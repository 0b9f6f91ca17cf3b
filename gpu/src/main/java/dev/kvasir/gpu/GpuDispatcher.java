package dev.kvasir.gpu;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static jcuda.driver.JCudaDriver.cuCtxCreate;
import static jcuda.driver.JCudaDriver.cuCtxDestroy;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;

/**
 * The one thread that talks to a device. It creates the device's CUDA context and compute stream
 * and makes every JCuda call for that device but one (below), so launches queue up asynchronously
 * on the stream in call order. Callers hand it work and wait for
 * the result (or keep the future). Both sides poll instead of parking for up to
 * {@code -Dkvasir.gpu.spin-wait-ms} (default 20; 0 parks at once), see {@link BusyPollWorker}.
 * The one exception is {@link #waitFor}: a thread waiting for a step to finish waits on its own,
 * so that the dispatcher thread meanwhile takes the next step.
 */
public final class GpuDispatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GpuDispatcher.class);
    private static final long SPIN_NANOS = (long) (Double.parseDouble(System.getProperty("kvasir.gpu.spin-wait-ms", "20")) * 1e6);
    private final int ordinal;
    private final BusyPollWorker thread;
    private Thread owner;
    private CUcontext context;
    private CUstream stream;

    private GpuDispatcher(int ordinal) {
        this.ordinal = ordinal;
        this.thread = new BusyPollWorker("kvasir-gpu-" + ordinal, SPIN_NANOS);
    }

    /** Starts the dispatcher thread of device {@code ordinal} and creates its context there. */
    public static GpuDispatcher open(int ordinal) {
        if (!GpuDevices.init()) throw new IllegalStateException(GpuDevices.unavailableReason());
        GpuDispatcher d = new GpuDispatcher(ordinal);
        d.call(() -> {
            CUdevice device = new CUdevice();
            cuDeviceGet(device, ordinal);
            d.context = new CUcontext();
            cuCtxCreate(d.context, 0, device);
            d.stream = new CUstream();
            cuStreamCreate(d.stream, CUstream_flags.CU_STREAM_NON_BLOCKING);
            d.owner = Thread.currentThread();
            return null;
        });
        log.info("dispatcher for cuda:{} started", ordinal);
        return d;
    }

    public int ordinal() {
        return ordinal;
    }

    /** The compute stream; only for use on the dispatcher thread. */
    public CUstream stream() {
        checkThread();
        return stream;
    }

    /** Fails unless called on this device's dispatcher thread. */
    public void checkThread() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("CUDA call for cuda:" + ordinal + " off its dispatcher thread (" + Thread.currentThread().getName() + ")");
        }
    }

    /**
     * Waits on the calling thread, with the device's context made current there, until the work
     * recorded in {@code event} has finished: the dispatcher thread stays free to queue more work.
     */
    public void waitFor(CUevent event) {
        if (owner != null && Thread.currentThread() != owner) cuCtxSetCurrent(context);
        cuEventSynchronize(event);
    }

    /** Runs {@code work} on the dispatcher thread; returns at once. */
    public <T> CompletableFuture<T> submit(Callable<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        thread.execute(() -> {
            try {
                if (context != null) cuCtxSetCurrent(context);
                f.complete(work.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /** Runs {@code work} on the dispatcher thread and waits for its result (on it, runs inline). */
    public <T> T call(Callable<T> work) {
        try {
            if (owner != null && Thread.currentThread() == owner) return work.call();
            return thread.await(submit(work));
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            throw new IllegalStateException(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for cuda:" + ordinal, e);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            call(() -> {
                if (stream != null) cuStreamDestroy(stream);
                if (context != null) cuCtxDestroy(context);
                return null;
            });
        } finally {
            thread.shutdown();
        }
    }
}
