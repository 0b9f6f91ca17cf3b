package dev.kvasir.cluster.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.RouterMetrics;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.headers.CacheControl;
import org.apache.pekko.http.javadsl.model.headers.CacheDirectives;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSink;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The node's HTTP server: the OpenAI-compatible API, {@code /health}, {@code /metrics} and the
 * {@code /v1/stream} WebSocket (see docs/API.md and docs/websocket.md). One handler function, so that
 * every failure — including ones the routing DSL would answer in its own format — gets an
 * OpenAI-shaped error body.
 */
public final class HttpGateway {
    private static final Logger log = LoggerFactory.getLogger(HttpGateway.class);
    private static final ContentType EVENT_STREAM = ContentTypes.create(MediaTypes.TEXT_EVENT_STREAM);
    private static final ByteString DONE = ByteString.fromString("data: [DONE]\n\n");

    private final ActorSystem<?> system;
    private final Materializer materializer;
    private final GatewaySettings settings;
    private final ModelHolder models;
    private final InFlight inFlight;
    private final GatewayMetrics metrics;
    private final Generations generations;
    private final HealthProbe health;
    private final RequestParser parser;
    private final ObjectMapper json = new ObjectMapper();
    private final AtomicLong connections = new AtomicLong();

    public HttpGateway(ActorSystem<?> system, GatewaySettings settings, ModelHolder models, InFlight inFlight,
                       GatewayMetrics metrics, int maxN) {
        this.system = system;
        this.materializer = Materializer.matFromSystem(system);
        this.settings = settings;
        this.models = models;
        this.inFlight = inFlight;
        this.metrics = metrics;
        this.generations = new Generations(inFlight, metrics);
        this.health = new HealthProbe(system, models, inFlight, settings.healthProbeTimeout());
        this.parser = new RequestParser(maxN);
    }

    public CompletionStage<ServerBinding> bind() {
        return Http.get(system).newServerAt(settings.host(), settings.port()).bind(this::handle);
    }

    CompletionStage<HttpResponse> handle(HttpRequest request) {
        String path = request.getUri().path();
        boolean get = request.method().equals(HttpMethods.GET);
        boolean post = request.method().equals(HttpMethods.POST);
        try {
            return switch (path) {
                case "/v1/completions" -> post ? generate(request, false) : methodNotAllowed(request, "POST");
                case "/v1/chat/completions" -> post ? generate(request, true) : methodNotAllowed(request, "POST");
                case "/v1/models" -> get ? done(request, json(200, models())) : methodNotAllowed(request, "GET");
                case "/health" -> get ? discard(request).thenCompose(x -> health.check()).thenApply(h -> json(h.status(), h.body(json)))
                        : methodNotAllowed(request, "GET");
                case "/metrics" -> get ? discard(request).thenCompose(x -> scrape()) : methodNotAllowed(request, "GET");
                case "/v1/stream" -> get ? webSocket(request) : methodNotAllowed(request, "GET");
                default -> {
                    if (get && path.startsWith("/v1/models/")) yield done(request, model(path.substring("/v1/models/".length())));
                    yield done(request, error(new ApiError(404, "invalid_request_error", null, "not_found", "no such endpoint: "
                            + request.method().value() + " " + path)));
                }
            };
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(error(e));
        }
    }

    // ---- generation ---------------------------------------------------------------------------

    private CompletionStage<HttpResponse> generate(HttpRequest request, boolean chat) {
        return readJson(request).thenCompose(body -> {
            GenerateRequest r = parser.parse(body, chat ? RequestParser.Kind.CHAT : RequestParser.Kind.COMPLETION);
            ServedModel model = models.require(r.model());
            if (inFlight.draining()) throw ApiError.unavailable("shutting_down", "the node is shutting down: send the request to another node");
            int[] prompt = model.encode(r.prompt());
            int maxTokens = model.maxTokens(r, prompt);
            String id = generations.nextId(chat ? "chatcmpl" : "cmpl");
            Source<GenerationEvent, NotUsed> events = generations.run(model.router(), id, r.n() * (maxTokens + 1) + 2,
                    ref -> model.submit(id, r, prompt, ref));
            OpenAiResponder responder = new OpenAiResponder(json, model, id, chat, r);
            // Wait for the router's verdict (Accepted or Rejected) before choosing the status code.
            return events.prefixAndTail(1).runWith(Sink.head(), materializer).thenApply(first -> {
                GenerationEvent head = first.first().getFirst();
                if (head instanceof GenerationEvent.Rejected rejected) {
                    first.second().runWith(Sink.ignore(), materializer);
                    return error(rejection(rejected));
                }
                Source<GenerationEvent, NotUsed> all = Source.single(head).concat(first.second());
                if (r.stream()) {
                    Source<ByteString, NotUsed> sse = all.mapConcat(responder::chunks)
                            .map(s -> ByteString.fromString("data: " + s + "\n\n"))
                            .concat(Source.single(DONE));
                    return HttpResponse.create().withStatus(200).addHeader(CacheControl.create(CacheDirectives.NO_CACHE))
                            .withEntity(HttpEntities.createChunked(EVENT_STREAM, sse));
                }
                // The body is written when the last sample finishes; sending it chunked lets the status
                // go out now, and a client that hangs up before the end cancels the request.
                Source<ByteString, NotUsed> answer = all
                        .fold(responder, (acc, e) -> {
                            acc.take(e);
                            return acc;
                        })
                        .map(acc -> ByteString.fromString(acc.result().toString()));
                return HttpResponse.create().withStatus(200).withEntity(HttpEntities.createChunked(ContentTypes.APPLICATION_JSON, answer));
            });
        }).exceptionally(this::error);
    }

    private static ApiError rejection(GenerationEvent.Rejected r) {
        return switch (r.code()) {
            case INVALID_REQUEST -> ApiError.invalid(null, r.message());
            case OVERLOADED -> ApiError.unavailable("overloaded", r.message());
            case INTERNAL -> ApiError.internal(r.message());
        };
    }

    /** The body as JSON: size-limited, strictly UTF-8, parsed; each failure a 4xx naming it. */
    private CompletionStage<JsonNode> readJson(HttpRequest request) {
        return request.entity().withSizeLimit(settings.maxBodyBytes()).toStrict(30_000, materializer).thenApply(strict -> {
            byte[] bytes = strict.getData().toArray();
            if (bytes.length == 0) throw ApiError.invalid(null, "the request body is empty: send a JSON object");
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw ApiError.invalid(null, "the request body is not valid UTF-8");
            }
            try {
                return json.readTree(text);
            } catch (JsonProcessingException e) {
                throw ApiError.invalid(null, "malformed JSON: " + e.getOriginalMessage());
            }
        });
    }

    // ---- models, metrics ----------------------------------------------------------------------

    private ObjectNode models() {
        ObjectNode o = json.createObjectNode().put("object", "list");
        o.putArray("data").add(modelEntry());
        return o;
    }

    private ObjectNode modelEntry() {
        ServedModel m = models.model();
        ObjectNode e = json.createObjectNode().put("id", models.id()).put("object", "model")
                .put("created", m == null ? 0 : m.created()).put("owned_by", "kvasir")
                .put("ready", m != null).put("synthetic", models.synthetic()).put("description", models.description());
        if (m != null) e.put("max_model_len", m.contextLength()).put("chat_template", m.chatTemplate().isPresent());
        return e;
    }

    private HttpResponse model(String id) {
        if (!id.equals(models.id())) return error(ApiError.notFound("model", "model_not_found", "model '" + id + "' is not served here"));
        return json(200, modelEntry());
    }

    private CompletionStage<HttpResponse> scrape() {
        ServedModel m = models.model();
        CompletionStage<RouterMetrics> engine = m == null ? CompletableFuture.completedFuture(null)
                : AskPattern.<RouterCommand, RouterMetrics>ask(m.router(), RouterCommand.GetMetrics::new, Duration.ofSeconds(5), system.scheduler())
                .exceptionally(t -> null);
        return engine.thenApply(em -> HttpResponse.create().withStatus(200).withEntity(
                ContentTypes.parse(metrics.contentType()), metrics.scrape(em, m != null)));
    }

    // ---- WebSocket ----------------------------------------------------------------------------

    private CompletionStage<HttpResponse> webSocket(HttpRequest request) {
        Optional<WebSocketUpgrade> upgrade = request.getAttribute(AttributeKeys.webSocketUpgrade);
        if (upgrade.isEmpty()) {
            return done(request, error(ApiError.invalid(null, "/v1/stream is a WebSocket endpoint: send an Upgrade: websocket request")));
        }
        Pair<ActorRef<String>, Source<String, NotUsed>> outbound = ActorSource.<String>actorRef(
                s -> s == WebSocketSession.CLOSE, s -> Optional.empty(), settings.outboundBufferFrames(), OverflowStrategy.fail())
                .preMaterialize(materializer);
        long n = connections.incrementAndGet();
        ActorRef<WebSocketSession.Msg> session = system.systemActorOf(WebSocketSession.create(json, models, parser, inFlight,
                metrics, settings, outbound.first(), "ws" + n), "ws-session-" + n, Props.empty());
        int maxChars = settings.maxFrameChars();
        Flow<Message, WebSocketSession.ClientFrame, NotUsed> frames = Flow.<Message>create().mapAsync(1, m -> {
            if (m.isText()) {
                TextMessage t = m.asTextMessage();
                if (t.isStrict()) {
                    String s = t.getStrictText();
                    return CompletableFuture.completedFuture(s.length() > maxChars
                            ? new WebSocketSession.ClientFrame.TooLarge(maxChars) : new WebSocketSession.ClientFrame.Text(s));
                }
                return t.getStreamedText().limitWeighted(maxChars, s -> (long) s.length())
                        .runFold(new StringBuilder(), StringBuilder::append, materializer)
                        .<WebSocketSession.ClientFrame>thenApply(sb -> new WebSocketSession.ClientFrame.Text(sb.toString()))
                        .exceptionally(x -> new WebSocketSession.ClientFrame.TooLarge(maxChars));
            }
            return m.asBinaryMessage().getStreamedData().runWith(Sink.ignore(), materializer)
                    .<WebSocketSession.ClientFrame>thenApply(d -> new WebSocketSession.ClientFrame.Binary());
        });
        var in = frames.to(ActorSink.<WebSocketSession.ClientFrame, WebSocketSession.Msg, WebSocketSession.Ack>actorRefWithBackpressure(
                session, WebSocketSession.Incoming::new, WebSocketSession.Init::new, WebSocketSession.Ack.INSTANCE,
                new WebSocketSession.IncomingDone(null), WebSocketSession.IncomingDone::new));
        Source<Message, NotUsed> out = outbound.second()
                .watchTermination((nu, done) -> {
                    done.whenComplete((d, t) -> session.tell(new WebSocketSession.OutboundGone()));
                    return nu;
                })
                .map(s -> (Message) TextMessage.create(s));
        log.debug("WebSocket connection {} opened", n);
        return CompletableFuture.completedFuture(upgrade.get().handleMessagesWith(Flow.fromSinkAndSourceCoupled(in, out)));
    }

    // ---- responses ----------------------------------------------------------------------------

    private CompletionStage<HttpResponse> methodNotAllowed(HttpRequest request, String allowed) {
        return done(request, error(new ApiError(405, "invalid_request_error", null, "method_not_allowed",
                request.method().value() + " is not allowed on " + request.getUri().path() + " (use " + allowed + ")")));
    }

    private CompletionStage<HttpResponse> done(HttpRequest request, HttpResponse response) {
        return discard(request).thenApply(x -> response);
    }

    private CompletionStage<Object> discard(HttpRequest request) {
        return request.discardEntityBytes(materializer).completionStage().thenApply(d -> (Object) d);
    }

    private HttpResponse json(int status, ObjectNode body) {
        return HttpResponse.create().withStatus(status).withEntity(ContentTypes.APPLICATION_JSON, body.toString());
    }

    HttpResponse error(Throwable t) {
        while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        ApiError e = switch (t) {
            case ApiError a -> a;
            case EntityStreamSizeException s -> new ApiError(413, "invalid_request_error", null, "body_too_large",
                    "request body larger than the limit of " + settings.maxBodyBytes() + " bytes");
            default -> {
                log.error("request failed", t);
                yield ApiError.internal("internal error: " + t.getClass().getSimpleName() + ": " + t.getMessage());
            }
        };
        metrics.error(e.code());
        ObjectNode body = json.createObjectNode();
        ObjectNode err = body.putObject("error").put("message", e.getMessage()).put("type", e.type());
        if (e.param() == null) err.putNull("param");
        else err.put("param", e.param());
        err.put("code", e.code());
        return json(e.status(), body);
    }

}
