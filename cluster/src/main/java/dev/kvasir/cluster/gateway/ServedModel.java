package dev.kvasir.cluster.gateway;

import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.model.LoadedModel;
import dev.kvasir.model.gguf.GgufFile;
import dev.kvasir.model.tokenizer.HfTokenizerConfig;
import dev.kvasir.model.tokenizer.Tokenizer;
import org.apache.pekko.actor.typed.ActorRef;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model the gateway serves: its public id, what turns requests into prompt tokens (tokenizer,
 * chat template) and the router that runs them.
 *
 * @param description shown at {@code /v1/models} (e.g. that the model is the synthetic default)
 * @param created     epoch seconds, for OpenAI's {@code created} fields
 */
public record ServedModel(String id, String description, boolean synthetic, Tokenizer tokenizer, int contextLength,
                          Optional<ChatTemplate> chatTemplate, ActorRef<RouterCommand> router, long created) {

    public static ServedModel of(String id, String description, boolean synthetic, LoadedModel model,
                                 ActorRef<RouterCommand> router) {
        Tokenizer t = model.tokenizer();
        Optional<ChatTemplate> template = templateSource(model.path()).map(src -> new ChatTemplate(src,
                t.bosId() >= 0 ? t.tokenText(t.bosId()) : "", t.eosId() >= 0 ? t.tokenText(t.eosId()) : ""));
        return new ServedModel(id, description, synthetic, t, model.weights().config().contextLength(), template, router,
                System.currentTimeMillis() / 1000);
    }

    /** GGUF {@code tokenizer.chat_template}, or the default template of a Hugging Face directory's tokenizer_config.json. */
    static Optional<String> templateSource(Path path) {
        if (Files.isDirectory(path)) return HfTokenizerConfig.readDirectory(path).chatTemplate();
        try (GgufFile f = GgufFile.open(path)) {
            return f.metadata().getString("tokenizer.chat_template");
        }
    }

    /** The prompt's token ids: text encoded as {@code ./kvasir generate} does, chat through the template. */
    public int[] encode(PromptInput prompt) {
        int[] ids = switch (prompt) {
            case PromptInput.Text t -> tokenizer.encode(t.text(), tokenizer.addBosByDefault(), false);
            case PromptInput.TokenIds t -> {
                for (int id : t.ids()) {
                    if (id >= tokenizer.vocabSize()) {
                        throw ApiError.invalid("prompt", "token id " + id + " is outside the vocabulary of " + tokenizer.vocabSize());
                    }
                }
                yield t.ids();
            }
            case PromptInput.Chat c -> {
                ChatTemplate template = chatTemplate.orElseThrow(() -> new ApiError(400, "invalid_request_error", "messages",
                        "chat_template_missing", "model '" + id + "' has no chat template (neither tokenizer.chat_template in "
                        + "its GGUF file nor chat_template in tokenizer_config.json), so it cannot take 'messages': "
                        + "send a plain 'prompt' to /v1/completions instead"));
                String text = template.render(c.messages());
                // Templates usually write the BOS text themselves; then the tokenizer must not add a second one.
                String bos = tokenizer.bosId() >= 0 ? tokenizer.tokenText(tokenizer.bosId()) : null;
                boolean addBos = tokenizer.addBosByDefault() && (bos == null || bos.isEmpty() || !text.startsWith(bos));
                yield tokenizer.encode(text, addBos, true);
            }
        };
        String param = prompt instanceof PromptInput.Chat ? "messages" : "prompt";
        if (ids.length == 0) throw ApiError.invalid(param, "the prompt encodes to no tokens");
        if (ids.length >= contextLength) {
            throw new ApiError(400, "invalid_request_error", param, "context_length_exceeded", "prompt of " + ids.length
                    + " tokens does not fit the context window of " + contextLength + " tokens (at least one token must be left to generate)");
        }
        return ids;
    }

    /** The router command for a validated request whose prompt is already encoded. */
    public RouterCommand.Submit submit(String requestId, GenerateRequest r, int[] prompt, ActorRef<GenerationEvent> replyTo) {
        return new RouterCommand.Submit(requestId, prompt, r.sampling(), maxTokens(r, prompt), r.stop(), r.n(), r.logprobs(),
                r.topLogprobs(), null, replyTo);
    }

    /**
     * The token budget per sample: as asked (at most the context window; a sample still ends where
     * the window does), or by default up to the end of the window.
     */
    public int maxTokens(GenerateRequest r, int[] prompt) {
        if (r.maxTokens() != null && r.maxTokens() > contextLength) {
            throw ApiError.invalid("max_tokens", "max_tokens " + r.maxTokens() + " exceeds the context window of " + contextLength + " tokens");
        }
        return r.maxTokens() != null ? r.maxTokens() : contextLength - prompt.length;
    }
}
