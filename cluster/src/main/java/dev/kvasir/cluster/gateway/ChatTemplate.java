package dev.kvasir.cluster.gateway;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A model's chat template (the Jinja text of GGUF {@code tokenizer.chat_template} or
 * {@code tokenizer_config.json}'s {@code chat_template}), rendered with jinjava under the
 * conventions Hugging Face's {@code apply_chat_template} uses: {@code trim_blocks} and
 * {@code lstrip_blocks} on, variables {@code messages}, {@code bos_token}, {@code eos_token},
 * {@code add_generation_prompt}, and a {@code raise_exception(msg)} function templates call to
 * refuse a conversation (for example roles out of order).
 */
public final class ChatTemplate {
    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    public ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = source;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withMaxOutputSize(16L << 20).build());
        jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
    }

    public String source() {
        return source;
    }

    /** Called by templates; the message ends up in the 400 the client reads. */
    public static Object raiseException(String message) {
        throw new TemplateRefusal(message);
    }

    /** Renders the conversation with the assistant's turn opened; template errors become a 400. */
    public String render(List<PromptInput.ChatMessage> messages) {
        List<Map<String, Object>> ms = new ArrayList<>();
        for (PromptInput.ChatMessage m : messages) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("role", m.role());
            e.put("content", m.content());
            ms.add(e);
        }
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", ms);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        vars.put("add_generation_prompt", true);
        RenderResult r;
        try {
            r = jinjava.renderForResult(source, vars);
        } catch (TemplateRefusal e) {
            throw ApiError.invalid("messages", "the model's chat template refused the messages: " + e.getMessage());
        } catch (RuntimeException e) {
            throw ApiError.invalid("messages", "the model's chat template failed: " + e.getMessage());
        }
        List<TemplateError> fatal = r.getErrors().stream().filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL).toList();
        if (!fatal.isEmpty()) {
            String why = fatal.stream().map(ChatTemplate::describe).collect(Collectors.joining("; "));
            throw ApiError.invalid("messages", "the model's chat template failed: " + why);
        }
        return r.getOutput();
    }

    private static String describe(TemplateError e) {
        Throwable t = e.getException();
        while (t != null) {
            if (t instanceof TemplateRefusal refusal) return "refused: " + refusal.getMessage();
            t = t.getCause();
        }
        return e.getMessage();
    }

    /** What {@code raise_exception} throws. */
    static final class TemplateRefusal extends RuntimeException {
        TemplateRefusal(String message) {
            super(message, null, false, false);
        }
    }
}
