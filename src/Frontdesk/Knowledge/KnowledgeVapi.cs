using System.Text;
using System.Text.Json;
using Frontdesk.Calls;

namespace Frontdesk.Knowledge;

/// <summary>The Vapi tool <c>lookup_knowledge {question}</c>: the best passages as one spoken line — or, for
/// clinical advice and emergencies, the clinic's consultation offer or emergency instruction; a question
/// the knowledge base cannot answer is recorded as a gap (Reception/KnowledgeTriage.cs).</summary>
public sealed class LookupKnowledgeTool(Reception.KnowledgeTriage triage) : IVapiTool
{
    public const int MaxSpokenChars = 600;
    public string Name => "lookup_knowledge";

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        // OpenAI-format tool calls carry the arguments as a JSON string; Vapi's own format as an object.
        if (arguments.ValueKind == JsonValueKind.String)
        {
            try
            {
                using var doc = JsonDocument.Parse(arguments.GetString() ?? "{}");
                arguments = doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                throw new VapiToolException("I need the caller's question to look it up.");
            }
        }
        var question = arguments.ValueKind == JsonValueKind.Object && arguments.TryGetProperty("question", out var q) && q.ValueKind == JsonValueKind.String
            ? q.GetString()
            : null;
        if (string.IsNullOrWhiteSpace(question))
            throw new VapiToolException("I need the caller's question to look it up.");
        var answer = await triage.AnswerAsync(context, question, explicitQuestion: true, ct);
        if (answer.Spoken is { } spoken) return spoken;
        if (answer.Hits.Count == 0)
            return "The clinic's information does not cover that; the question has been passed on to the team. " +
                   "Offer a call back from the team (request_callback) or a consultation.";
        var passages = KnowledgeSpeech.Passages(answer.Hits, MaxSpokenChars);
        return answer.GapId is null
            ? passages
            : passages + " (These passages may not answer the question; it has been passed on to the team. If they don't, offer a call back or a consultation.)";
    }
}

/// <summary>Vapi's custom knowledge base: <c>knowledge-base-request</c> → <c>{documents: [{content, similarity}]}</c>
/// for the conversation's last user message (through Reception/KnowledgeTriage.cs: advice and emergencies get
/// one document with the clinic's answer; no relevant passage, no documents and a gap recorded).</summary>
public sealed class KnowledgeBaseRequestHandler(Reception.KnowledgeTriage triage) : IVapiMessageHandler
{
    public string Type => "knowledge-base-request";

    public async Task<object?> HandleAsync(VapiContext context, CancellationToken ct)
    {
        var question = KnowledgeSpeech.LastUserText(context.Message);
        var answer = await triage.AnswerAsync(context, question, explicitQuestion: false, ct);
        if (answer.Spoken is { } spoken) return new KnowledgeDocuments([new KnowledgeDocument(spoken, 1.0)]);
        return new KnowledgeDocuments([.. answer.Hits.Select(h => new KnowledgeDocument(Chunker.Plain(h.Text), Similarity(h.Score)))]);
    }

    /// <summary>Vapi expects 0..1; score/(1+score) keeps the order and needs no corpus statistics.</summary>
    static double Similarity(double score) => Math.Round(score / (1 + score), 4);
}

public sealed record KnowledgeDocuments(IReadOnlyList<KnowledgeDocument> Documents);

public sealed record KnowledgeDocument(string Content, double Similarity);

/// <summary>Partial and final transcripts of the caller start the knowledge search before the turn ends.</summary>
public sealed class PrefetchOnTranscript(KnowledgePrefetch prefetch, string type = "transcript") : IVapiMessageHandler
{
    public string Type => type;

    public Task<object?> HandleAsync(VapiContext context, CancellationToken ct)
    {
        var m = context.Message;
        if (KnowledgeSpeech.Str(m, "role") is "user" or null && KnowledgeSpeech.Str(m, "transcript") is { } text)
            prefetch.Start(context.Clinic.Id, context.CallId, text);
        return Task.FromResult<object?>(null);
    }
}

/// <summary>A conversation update carries the whole conversation; its last user message is the question.</summary>
public sealed class PrefetchOnConversationUpdate(KnowledgePrefetch prefetch) : IVapiMessageHandler
{
    public string Type => "conversation-update";

    public Task<object?> HandleAsync(VapiContext context, CancellationToken ct)
    {
        prefetch.Start(context.Clinic.Id, context.CallId, KnowledgeSpeech.LastUserText(context.Message));
        return Task.FromResult<object?>(null);
    }
}

public static class KnowledgeSpeech
{
    /// <summary>Best passages first, Markdown removed, one line, cut at a sentence end near the limit.</summary>
    public static string Passages(IReadOnlyList<KnowledgeHit> hits, int maxChars)
    {
        var sb = new StringBuilder();
        foreach (var h in hits)
        {
            var text = Chunker.Plain(h.Text).Replace('\n', ' ');
            if (sb.Length > 0 && sb.Length + text.Length + 1 > maxChars) break;
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(text);
        }
        var line = sb.ToString();
        if (line.Length <= maxChars) return line;
        var cut = line.LastIndexOfAny(['.', '!', '?'], maxChars - 1);
        return cut > maxChars / 2 ? line[..(cut + 1)] : line[..maxChars].TrimEnd() + "…";
    }

    /// <summary>The last user message of a Vapi message's conversation: <c>messagesOpenAIFormatted</c>
    /// ({role, content}) or <c>messages</c> ({role, message} or {role, content}); content may be a
    /// string or OpenAI content parts.</summary>
    public static string? LastUserText(JsonElement message)
    {
        foreach (var name in (string[])["messagesOpenAIFormatted", "messages"])
        {
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty(name, out var list) || list.ValueKind != JsonValueKind.Array)
                continue;
            for (var i = list.GetArrayLength() - 1; i >= 0; i--)
            {
                var m = list[i];
                if (Str(m, "role") != "user") continue;
                if (Content(m) is { Length: > 0 } text) return text;
            }
        }
        return null;
    }

    public static string? Content(JsonElement m)
    {
        if (m.ValueKind != JsonValueKind.Object) return null;
        foreach (var field in (string[])["content", "message"])
        {
            if (!m.TryGetProperty(field, out var c)) continue;
            if (c.ValueKind == JsonValueKind.String) return c.GetString();
            if (c.ValueKind == JsonValueKind.Array)
                return string.Join(' ', c.EnumerateArray()
                    .Where(p => Str(p, "type") == "text" && Str(p, "text") is not null)
                    .Select(p => Str(p, "text")));
        }
        return null;
    }

    public static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
