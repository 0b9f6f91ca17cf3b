package dev.kvasir.actors;

import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Gathers the events of many requests from one probe and checks their order rules on the way. */
public final class GenerationCollector {

    /** One sample's stream. */
    public static final class Sample {
        public final List<Integer> tokens = new ArrayList<>();
        public final StringBuilder text = new StringBuilder();
        public GenerationEvent.Finished finished;

        public int[] tokenArray() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    public final Map<String, Map<Integer, Sample>> samples = new HashMap<>();
    public final Map<String, GenerationEvent.Rejected> rejected = new HashMap<>();
    public final Map<String, GenerationEvent.Accepted> accepted = new HashMap<>();
    private int finishedCount;

    public Sample sample(String requestId, int index) {
        return samples.computeIfAbsent(requestId, k -> new HashMap<>()).computeIfAbsent(index, k -> new Sample());
    }

    /** Receives until {@code finishedSamples} samples have finished (rejections count as their request's samples). */
    public GenerationCollector until(TestProbe<GenerationEvent> probe, int finishedSamples) {
        while (finishedCount < finishedSamples) take(probe.receiveMessage(Duration.ofSeconds(60)));
        return this;
    }

    public void take(GenerationEvent e) {
        switch (e) {
            case GenerationEvent.Accepted a -> accepted.put(a.requestId(), a);
            case GenerationEvent.Token t -> {
                assertTrue(accepted.containsKey(t.requestId()), "token before Accepted");
                Sample s = sample(t.requestId(), t.sampleIndex());
                if (s.finished != null) fail("token after Finished: " + t);
                assertEquals(s.tokens.size(), t.index(), "token indices count from 0 without gaps");
                s.tokens.add(t.tokenId());
                s.text.append(t.text());
            }
            case GenerationEvent.Finished f -> {
                Sample s = sample(f.requestId(), f.sampleIndex());
                if (s.finished != null) fail("finished twice: " + f);
                s.finished = f;
                s.text.append(f.trailingText());
                assertEquals(s.tokens.size(), f.completionTokens());
                finishedCount++;
            }
            case GenerationEvent.Rejected r -> {
                rejected.put(r.requestId(), r);
                finishedCount++;
            }
        }
    }
}
