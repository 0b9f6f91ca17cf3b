package dev.kvasir.cluster.gateway;

/**
 * A request the gateway refuses, with what both protocols need to say why: an HTTP status and
 * OpenAI's error fields ({@code type}, {@code param}, {@code code}) for HTTP bodies, and
 * {@link #frameCode()} for WebSocket {@code error} frames.
 */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiError(int status, String type, String param, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: the request can never be served as sent. */
    public static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, "invalid_request", message);
    }

    public static ApiError notFound(String param, String code, String message) {
        return new ApiError(404, "invalid_request_error", param, code, message);
    }

    /** 503: the node cannot take it now (queue full, loading, draining); retry later. */
    public static ApiError unavailable(String code, String message) {
        return new ApiError(503, "server_error", null, code, message);
    }

    public static ApiError internal(String message) {
        return new ApiError(500, "server_error", null, "internal", message);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }

    /** The WebSocket error code of DESIGN.md: invalid_request, overloaded, not_found or internal. */
    public String frameCode() {
        if (status == 404) return "not_found";
        if (status == 503 || status == 429) return "overloaded";
        if (status >= 500) return "internal";
        return "invalid_request";
    }
}
