package dev.kvasir.tests.gateway;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.kvasir.model.SharedData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The official OpenAI Java SDK against a real node over loopback: completions and chat, streaming and
 * not. Greedy text must equal {@code ./kvasir generate}'s for the same prompt.
 */
class OpenAiSdkTest {
    static final String PROMPT = "Once upon a time";
    static GatewayNode plain;
    static GatewayNode templated;
    static OpenAIClient plainClient;
    static OpenAIClient templatedClient;

    @TempDir
    static Path temp;

    @BeforeAll
    static void start() throws IOException {
        plain = new GatewayNode(SharedData.require("models/stories260K/stories260K-f32.gguf"));
        plainClient = client(plain);
        // stories260K has no chat template: give a copy of its HF directory one.
        Path hf = SharedData.require("models/stories260K/hf");
        Path copy = Files.createDirectories(temp.resolve("stories260K-chat"));
        try (Stream<Path> files = Files.list(hf)) {
            for (Path f : files.toList()) Files.copy(f, copy.resolve(f.getFileName()));
        }
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) GatewayNode.JSON.readTree(copy.resolve("tokenizer_config.json").toFile());
        config.put("chat_template", "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] | trim }}\n{% endfor %}"
                + "{% if add_generation_prompt %}assistant:{% endif %}");
        GatewayNode.JSON.writeValue(copy.resolve("tokenizer_config.json").toFile(), config);
        templated = new GatewayNode(copy);
        templatedClient = client(templated);
    }

    static OpenAIClient client(GatewayNode n) {
        return OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + n.node.port() + "/v1").apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        if (plainClient != null) plainClient.close();
        if (templatedClient != null) templatedClient.close();
        if (plain != null) plain.close();
        if (templated != null) templated.close();
    }

    static String cliGreedy(String prompt, int maxTokens) {
        var r = dev.kvasir.tests.CliAccess.run("generate", "--model", SharedData.require("models/stories260K/stories260K-f32.gguf").toString(),
                "--prompt", prompt, "--max-tokens", String.valueOf(maxTokens), "--temperature", "0", "--json");
        assertEquals(0, r.exitCode(), r.err());
        return r.json().get("text").asText();
    }

    CompletionCreateParams completion(int maxTokens) {
        return CompletionCreateParams.builder().model(plain.modelId()).prompt(PROMPT).maxTokens(maxTokens).temperature(0.0).build();
    }

    @Test
    void completionEqualsCliGenerateAndReportsUsage() {
        Completion c = plainClient.completions().create(completion(60));
        assertEquals(cliGreedy(PROMPT, 60), c.choices().getFirst().text());
        assertEquals("length", c.choices().getFirst().finishReason().asString());
        var usage = c.usage().orElseThrow();
        assertEquals(60, usage.completionTokens());
        assertEquals(plain.node.ready().toCompletableFuture().join().encode(new dev.kvasir.cluster.gateway.PromptInput.Text(PROMPT)).length,
                usage.promptTokens());
        assertEquals(usage.promptTokens() + usage.completionTokens(), usage.totalTokens());
    }

    @Test
    void streamedCompletionIsOneChunkPerTokenAndConcatenatesToTheSameText() {
        StringBuilder text = new StringBuilder();
        int chunks = 0;
        Long completionTokens = null;
        var params = completion(40).toBuilder().streamOptions(com.openai.models.chat.completions.ChatCompletionStreamOptions.builder()
                .includeUsage(true).build()).build();
        try (StreamResponse<Completion> s = plainClient.completions().createStreaming(params)) {
            for (Completion c : (Iterable<Completion>) s.stream()::iterator) {
                if (c.usage().isPresent()) completionTokens = c.usage().get().completionTokens();
                for (var choice : c.choices()) {
                    text.append(choice.text());
                    chunks++;
                }
            }
        }
        assertEquals(cliGreedy(PROMPT, 40), text.toString());
        assertEquals(41, chunks, "40 token chunks and one final chunk with the finish reason");
        assertEquals(40L, completionTokens);
    }

    @Test
    void nSamplesWithSeedAreReproducibleAndStopStringsCut() {
        var params = CompletionCreateParams.builder().model(plain.modelId()).prompt(PROMPT).maxTokens(30).temperature(0.9)
                .seed(42).n(3).build();
        Completion a = plainClient.completions().create(params);
        Completion b = plainClient.completions().create(params);
        assertEquals(3, a.choices().size());
        assertEquals(a.choices().stream().map(com.openai.models.completions.CompletionChoice::text).toList(), b.choices().stream().map(com.openai.models.completions.CompletionChoice::text).toList());
        Completion stopped = plainClient.completions().create(completion(100).toBuilder().stop("Lily").build());
        assertEquals(", there was a little girl named ", stopped.choices().getFirst().text());
        assertEquals("stop", stopped.choices().getFirst().finishReason().asString());
    }

    @Test
    void chatWithTemplateStreamingAndNotGiveTheSameGreedyAnswer() {
        var params = ChatCompletionCreateParams.builder().model(templated.modelId()).addSystemMessage("Tell a story.")
                .addUserMessage("Once upon a time").maxCompletionTokens(30).temperature(0.0).build();
        ChatCompletion c = templatedClient.chat().completions().create(params);
        String whole = c.choices().getFirst().message().content().orElseThrow();
        assertFalse(whole.isEmpty());
        var usage = c.usage().orElseThrow();
        assertEquals(30, usage.completionTokens());
        var served = templated.node.ready().toCompletableFuture().join();
        String rendered = served.chatTemplate().orElseThrow().render(List.of(
                new dev.kvasir.cluster.gateway.PromptInput.ChatMessage("system", "Tell a story."),
                new dev.kvasir.cluster.gateway.PromptInput.ChatMessage("user", "Once upon a time")));
        assertEquals("<s>system: Tell a story.\nuser: Once upon a time\nassistant:", rendered);
        assertEquals(served.tokenizer().encode(rendered, false, true).length, usage.promptTokens());

        StringBuilder streamed = new StringBuilder();
        Long streamedTokens = null;
        try (StreamResponse<ChatCompletionChunk> s = templatedClient.chat().completions().createStreaming(
                params.toBuilder().streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append));
                if (chunk.usage().isPresent()) streamedTokens = chunk.usage().get().completionTokens();
            }
        }
        assertEquals(whole, streamed.toString());
        assertEquals(30L, streamedTokens);
    }

    @Test
    void chatWithoutTemplateIsAClear400() {
        var params = ChatCompletionCreateParams.builder().model(plain.modelId()).addUserMessage("Hello").maxCompletionTokens(5).build();
        BadRequestException e = assertThrows(BadRequestException.class, () -> plainClient.chat().completions().create(params));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().contains("has no chat template"), e.getMessage());
        // the node keeps serving
        assertEquals(cliGreedy(PROMPT, 10), plainClient.completions().create(completion(10)).choices().getFirst().text());
    }

    @Test
    void unknownModelIs404() {
        var params = CompletionCreateParams.builder().model("gpt-4").prompt("x").maxTokens(1).build();
        NotFoundException e = assertThrows(NotFoundException.class, () -> plainClient.completions().create(params));
        assertTrue(e.getMessage().contains("gpt-4"), e.getMessage());
    }

    @Test
    void modelsListsTheServedModel() {
        var models = plainClient.models().list().data();
        assertEquals(List.of(plain.modelId()), models.stream().map(m -> m.id()).toList());
    }
}
