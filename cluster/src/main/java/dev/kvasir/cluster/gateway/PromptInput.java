package dev.kvasir.cluster.gateway;

import java.util.List;

/** What a request asks the model to continue: plain text, ready token ids, or chat messages. */
public sealed interface PromptInput {

    record Text(String text) implements PromptInput {
    }

    record TokenIds(int[] ids) implements PromptInput {
    }

    record Chat(List<ChatMessage> messages) implements PromptInput {
        public Chat {
            messages = List.copyOf(messages);
        }
    }

    /** One chat turn; {@code content} is the text (multi-part content is joined). */
    record ChatMessage(String role, String content) {
    }
}
