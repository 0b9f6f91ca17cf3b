package dev.kvasir.cluster.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RouterCommand;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * One WebSocket connection of the {@code /v1/stream} protocol (docs/websocket.md): many requests
 * multiplexed by client-chosen ids. Client frames arrive one at a time (each is acknowledged, so a
 * client that floods frames is slowed by TCP, not queued in memory); router events are turned into
 * {@code token}/{@code done}/{@code error} frames and pushed to the connection's bounded outbound
 * buffer. When the connection ends, from either side, every running request is cancelled.
 */
public final class WebSocketSession extends AbstractBehavior<WebSocketSession.Msg> {

    public sealed interface Msg permits Init, Incoming, IncomingDone, OutboundGone, Event {
    }

    /** Acknowledges a client frame, asking for the next. */
    public enum Ack { INSTANCE }

    public record Init(ActorRef<Ack> ackTo) implements Msg {
    }

    public record Incoming(ActorRef<Ack> ackTo, ClientFrame frame) implements Msg {
    }

    /** The client closed its side (or the connection failed). */
    public record IncomingDone(Throwable failure) implements Msg {
    }

    /** The outbound stream ended: the client is gone or fell too far behind. */
    public record OutboundGone() implements Msg {
    }

    record Event(GenerationEvent event) implements Msg {
    }

    /** A frame as the client sent it. */
    public sealed interface ClientFrame {
        record Text(String text) implements ClientFrame {
        }

        record Binary() implements ClientFrame {
        }

        record TooLarge(int limit) implements ClientFrame {
        }
    }

    /** Sent to the outbound actor to complete the stream (compared by identity). */
    @SuppressWarnings("StringOperationCanBeSimplified")
    public static final String CLOSE = new String("<close>");

    private record Active(String clientId, long startNanos) {
    }

    private final ObjectMapper json;
    private final ModelHolder models;
    private final RequestParser parser;
    private final InFlight inFlight;
    private final GatewayMetrics metrics;
    private final GatewaySettings settings;
    private final ActorRef<String> out;
    private final String prefix;
    private final ActorRef<GenerationEvent> events;
    private final Map<String, String> routerIdByClientId = new HashMap<>();
    private final Map<String, Active> active = new HashMap<>();
    private ActorRef<RouterCommand> router;
    private long sequence;

    public static Behavior<Msg> create(ObjectMapper json, ModelHolder models, RequestParser parser, InFlight inFlight,
                                       GatewayMetrics metrics, GatewaySettings settings, ActorRef<String> out, String prefix) {
        return Behaviors.setup(ctx -> new WebSocketSession(ctx, json, models, parser, inFlight, metrics, settings, out, prefix));
    }

    private WebSocketSession(ActorContext<Msg> ctx, ObjectMapper json, ModelHolder models, RequestParser parser,
                             InFlight inFlight, GatewayMetrics metrics, GatewaySettings settings, ActorRef<String> out,
                             String prefix) {
        super(ctx);
        this.json = json;
        this.models = models;
        this.parser = parser;
        this.inFlight = inFlight;
        this.metrics = metrics;
        this.settings = settings;
        this.out = out;
        this.prefix = prefix;
        this.events = ctx.messageAdapter(GenerationEvent.class, Event::new);
    }

    @Override
    public Receive<Msg> createReceive() {
        return newReceiveBuilder()
                .onMessage(Init.class, m -> {
                    m.ackTo().tell(Ack.INSTANCE);
                    return this;
                })
                .onMessage(Incoming.class, m -> {
                    onFrame(m.frame());
                    m.ackTo().tell(Ack.INSTANCE);
                    return this;
                })
                .onMessage(Event.class, m -> {
                    onEvent(m.event());
                    return this;
                })
                .onMessage(IncomingDone.class, m -> closed())
                .onMessage(OutboundGone.class, m -> closed())
                .build();
    }

    // ---- client frames ------------------------------------------------------------------------

    private void onFrame(ClientFrame frame) {
        switch (frame) {
            case ClientFrame.Binary b -> error(null, "invalid_request", "binary frames are not supported: send JSON text frames");
            case ClientFrame.TooLarge t -> error(null, "invalid_request", "frame larger than " + t.limit() + " characters");
            case ClientFrame.Text t -> onText(t.text());
        }
    }

    private void onText(String text) {
        JsonNode f;
        try {
            f = json.readTree(text);
        } catch (IOException e) {
            error(null, "invalid_request", "malformed JSON: " + firstLine(e.getMessage()));
            return;
        }
        if (f == null || !f.isObject()) {
            error(null, "invalid_request", "a frame must be a JSON object");
            return;
        }
        JsonNode idNode = f.get("id");
        String id = idNode != null && idNode.isTextual() ? idNode.asText() : null;
        JsonNode type = f.get("type");
        if (type == null || !type.isTextual()) {
            error(id, "invalid_request", "a frame needs a string 'type' (generate or cancel)");
            return;
        }
        switch (type.asText()) {
            case "generate" -> generate(f, id);
            case "cancel" -> cancel(id);
            default -> error(id, "invalid_request", "unknown frame type '" + type.asText() + "' (generate or cancel)");
        }
    }

    private void generate(JsonNode f, String id) {
        if (id == null || id.isEmpty() || id.length() > 256) {
            error(null, "invalid_request", "a generate frame needs a string 'id' of 1 to 256 characters");
            return;
        }
        if (routerIdByClientId.containsKey(id)) {
            error(id, "invalid_request", "id '" + id + "' is already in use by a running request");
            return;
        }
        if (inFlight.draining()) {
            error(id, "overloaded", "the node is shutting down: send the request to another node");
            return;
        }
        if (active.size() >= settings.maxRequestsPerConnection()) {
            error(id, "overloaded", "this connection already runs " + active.size() + " requests (the limit)");
            return;
        }
        ServedModel model;
        RouterCommand.Submit submit;
        String routerId = prefix + "-" + sequence++;
        try {
            model = models.require(RequestParser.optString(f, "model"));
            GenerateRequest r = parser.parse(f, RequestParser.Kind.STREAM_FRAME);
            if (r.n() != 1) throw ApiError.invalid("n", "n must be 1 over WebSocket: send one generate frame per sample");
            int[] prompt = model.encode(r.prompt());
            submit = model.submit(routerId, r, prompt, events);
        } catch (ApiError e) {
            error(id, e.frameCode(), e.getMessage());
            return;
        }
        router = model.router();
        routerIdByClientId.put(id, routerId);
        active.put(routerId, new Active(id, System.nanoTime()));
        inFlight.begin();
        router.tell(submit);
    }

    private void cancel(String id) {
        if (id == null) {
            error(null, "invalid_request", "a cancel frame needs the string 'id' of the request to cancel");
            return;
        }
        String routerId = routerIdByClientId.get(id);
        if (routerId == null) {
            // Unknown, or it finished before the cancel arrived (its done frame is already on the way).
            error(id, "not_found", "no running request with id '" + id + "'");
            return;
        }
        router.tell(new RouterCommand.Cancel(routerId));
    }

    // ---- router events ------------------------------------------------------------------------

    private void onEvent(GenerationEvent e) {
        Active a = active.get(e.requestId());
        if (a == null) return;
        switch (e) {
            case GenerationEvent.Accepted x -> {
            }
            case GenerationEvent.Token t -> {
                ObjectNode o = frame("token", a.clientId()).put("index", t.index()).put("token", t.tokenId()).put("text", t.text());
                if (!Float.isNaN(t.logprob())) o.put("logprob", t.logprob());
                send(o);
            }
            case GenerationEvent.Finished d -> {
                ObjectNode o = frame("done", a.clientId()).put("finish_reason", d.finishReason().wireName());
                if (!d.trailingText().isEmpty()) o.put("text", d.trailingText());
                o.putObject("usage").put("prompt_tokens", d.promptTokens()).put("completion_tokens", d.completionTokens())
                        .put("cached_tokens", d.cachedPromptTokens());
                send(o);
                metrics.finished(d.finishReason().wireName());
                metrics.endToEnd(System.nanoTime() - a.startNanos());
                end(e.requestId(), a);
            }
            case GenerationEvent.Rejected r -> {
                error(a.clientId(), r.code().wireName(), r.message());
                end(e.requestId(), a);
            }
        }
    }

    private void end(String routerId, Active a) {
        active.remove(routerId);
        routerIdByClientId.remove(a.clientId());
        inFlight.end();
    }

    private Behavior<Msg> closed() {
        for (String routerId : active.keySet()) {
            metrics.disconnected();
            inFlight.end();
            router.tell(new RouterCommand.Cancel(routerId));
        }
        active.clear();
        routerIdByClientId.clear();
        out.tell(CLOSE);
        return Behaviors.stopped();
    }

    // ---- frames out ---------------------------------------------------------------------------

    private ObjectNode frame(String type, String id) {
        ObjectNode o = json.createObjectNode().put("type", type);
        if (id == null) o.putNull("id");
        else o.put("id", id);
        return o;
    }

    private void error(String id, String code, String message) {
        metrics.error(code);
        send(frame("error", id).put("code", code).put("message", message));
    }

    private void send(ObjectNode frame) {
        out.tell(frame.toString());
    }

    static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
