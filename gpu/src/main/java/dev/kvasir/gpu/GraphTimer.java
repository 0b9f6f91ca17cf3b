package dev.kvasir.gpu;

import jcuda.driver.CUevent;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;

import java.util.Arrays;
import java.util.function.IntConsumer;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

/**
 * Times device work as the decode step runs it: {@code calls} launches captured in one CUDA graph,
 * the graph replayed a few times, the median replay divided by the calls. Host launches timed one by
 * one would time the launches of small kernels, not the kernels. Call on the dispatcher thread.
 */
final class GraphTimer {
    private static final int REPLAYS = 5;

    private GraphTimer() {
    }

    /** Milliseconds per call of {@code launch(i)}, i = 0 … calls − 1, queued on {@code stream}. */
    static double millisPerCall(CUstream stream, int calls, IntConsumer launch) {
        CUgraph graph = new CUgraph();
        cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
        try {
            for (int i = 0; i < calls; i++) launch.accept(i);
        } finally {
            cuStreamEndCapture(stream, graph);
        }
        CUgraphExec exec = new CUgraphExec();
        cuGraphInstantiate(exec, graph, 0);
        cuGraphDestroy(graph);
        CUevent start = new CUevent(), stop = new CUevent();
        cuEventCreate(start, 0);
        cuEventCreate(stop, 0);
        float[] ms = new float[1];
        double[] runs = new double[REPLAYS];
        try {
            for (int r = 0; r < runs.length; r++) {
                cuEventRecord(start, stream);
                cuGraphLaunch(exec, stream);
                cuEventRecord(stop, stream);
                cuEventSynchronize(stop);
                cuEventElapsedTime(ms, start, stop);
                runs[r] = ms[0] / calls;
            }
        } finally {
            cuGraphExecDestroy(exec);
            cuEventDestroy(start);
            cuEventDestroy(stop);
        }
        Arrays.sort(runs);
        return runs[runs.length / 2];
    }
}
