package dev.kvasir.cluster.gateway;

/**
 * The node's model as the gateway sees it: announced (id, description) before loading, then ready or
 * failed. The gateway binds before the model loads so that {@code /health} can say "loading".
 */
public final class ModelHolder {
    private final String id;
    private final String description;
    private final boolean synthetic;
    private volatile ServedModel model;
    private volatile String failure;

    public ModelHolder(String id, String description, boolean synthetic) {
        this.id = id;
        this.description = description;
        this.synthetic = synthetic;
    }

    public String id() {
        return id;
    }

    public String description() {
        return description;
    }

    public boolean synthetic() {
        return synthetic;
    }

    public void ready(ServedModel served) {
        this.model = served;
    }

    public void failed(String why) {
        this.failure = why;
    }

    /** The model, or null while loading or after a failed load. */
    public ServedModel model() {
        return model;
    }

    public String failure() {
        return failure;
    }

    /** The model a request names (null = the node's), or the error that explains why it cannot be served. */
    public ServedModel require(String requested) {
        if (requested != null && !requested.equals(id)) {
            throw ApiError.notFound("model", "model_not_found", "model '" + requested + "' is not served here (this node serves '" + id + "')");
        }
        ServedModel m = model;
        if (m != null) return m;
        if (failure != null) throw ApiError.unavailable("model_failed", "model '" + id + "' failed to load: " + failure);
        throw ApiError.unavailable("model_loading", "model '" + id + "' is still loading; retry shortly");
    }
}
