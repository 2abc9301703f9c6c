using Frontdesk.Calls;
using Frontdesk.Knowledge;

namespace Frontdesk.Reception;

/// <summary>What the voice agent gets for a caller's question: a spoken answer that replaces the
/// knowledge base (<see cref="Spoken"/>: the consultation offer or the emergency instruction), or the
/// knowledge base's passages — none when the best one is not relevant enough, in which case the
/// question was recorded as a gap (<see cref="GapId"/>).</summary>
public sealed record KnowledgeAnswer(CareKind Care, string? Spoken, IReadOnlyList<KnowledgeHit> Hits, Guid? GapId);

/// <summary>
/// The path every knowledge question of a call takes (lookup_knowledge and knowledge-base-request):
/// clinical advice and emergencies are not answered from the knowledge base (<see cref="CareQuestions"/>;
/// an emergency also opens an urgent callback), and a question whose best passage scores below
/// <see cref="ReceptionOptions.GapScoreThreshold"/> gets no passages and is recorded as a knowledge gap.
/// Writes go to the message's claim transaction when it has one (a tool call: they commit with the
/// stored answer, once), otherwise to a transaction of their own.
/// </summary>
public sealed partial class KnowledgeTriage(Db db, KnowledgePrefetch prefetch, KnowledgeEmbeddings embeddings, Callbacks callbacks,
    KnowledgeGaps gaps, ReceptionOptions options, ILogger<KnowledgeTriage> log)
{
    public static readonly TimeSpan SearchBudget = TimeSpan.FromSeconds(2);

    /// <param name="explicitQuestion">True for lookup_knowledge (the model asks a question); false for
    /// knowledge-base-request, which Vapi sends for every caller turn ("yes please", "my name is …"):
    /// those record a gap only when they read as a question.</param>
    public async Task<KnowledgeAnswer> AnswerAsync(VapiContext context, string? question, bool explicitQuestion, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(question) || question.Length > KnowledgeQuery.MaxQueryChars)
            return new KnowledgeAnswer(CareKind.None, null, [], null);

        var verdict = CareQuestions.Classify(question);
        if (verdict.Kind != CareKind.None)
        {
            Log.CareQuestion(log, context.Clinic.Id, verdict.Kind);
            var spoken = await InSessionAsync(context, s => CareAnswerAsync(s, context, verdict.Kind, question, ct), ct);
            return new KnowledgeAnswer(verdict.Kind, spoken, [], null);
        }

        var (hits, outcome) = await prefetch.GetAsync(context.Clinic.Id, context.CallId, question, SearchBudget, ct);
        // No search ran (nothing searchable) or it ran out of time: that says nothing about the knowledge base.
        if (outcome == "none" || outcome.Contains("timeout", StringComparison.Ordinal)) return new KnowledgeAnswer(CareKind.None, null, hits, null);
        if (await BestScoreAsync(context, question, hits, ct) >= options.GapScoreThreshold)
            return new KnowledgeAnswer(CareKind.None, null, hits, null);
        if (!explicitQuestion && !LooksLikeQuestion(question)) return new KnowledgeAnswer(CareKind.None, null, [], null);

        Guid? gap = null;
        try
        {
            gap = await InSessionAsync(context, s => gaps.RecordAsync(s, context.Clinic.Id, question, ct), ct);
            Log.GapRecorded(log, context.Clinic.Id);
        }
        catch (Npgsql.NpgsqlException e) when (context.Session is null)
        {
            // Its own transaction failed: the caller still gets an answer; a claim transaction's failure propagates (the tool call is retried).
            Log.GapFailed(log, context.Clinic.Id, e.GetType().Name);
        }
        return new KnowledgeAnswer(CareKind.None, null, [], gap);
    }

    /// <summary>The lexical score of the best passage: the hits' own, or — when searches fuse embeddings,
    /// whose scores are ranks — that of a lexical search for the same question.</summary>
    async Task<double> BestScoreAsync(VapiContext context, string question, IReadOnlyList<KnowledgeHit> hits, CancellationToken ct)
    {
        if (!embeddings.Enabled) return hits.Count == 0 ? 0 : hits.Max(h => h.Score);
        var lexical = await KnowledgeStore.LexicalAsync(db, context.Claims, context.Clinic.Id, KnowledgeQuery.Parse(question), 1, ct);
        return lexical.Count == 0 ? 0 : lexical[0].Score;
    }

    async Task<string> CareAnswerAsync(DbSession s, VapiContext context, CareKind kind, string question, CancellationToken ct)
    {
        var settings = await ReceptionStore.ReadAsync(s, context.Clinic.Id, ct);
        if (kind == CareKind.Advice) return settings.ConsultationOfferText;
        var instruction = settings.EmergencyInstructionFor(context.Clinic.Timezone);
        var phone = Phone.ToE164(context.CustomerNumber, Phone.RegionForTimezone(context.Clinic.Timezone));
        if (phone is null)
            return instruction + " If you can, tell me a number the team can ring you back on straight away.";
        await callbacks.OpenAsync(s, context.Clinic.Id,
            new NewCallback(context.CallId, Callbacks.Emergency, "emergency", phone, question, null, Urgent: true), replace: false, ct);
        return instruction + " I've also asked the team to call you back urgently on the number you're calling from.";
    }

    async Task<T> InSessionAsync<T>(VapiContext context, Func<DbSession, Task<T>> work, CancellationToken ct) =>
        context.Session is { } s ? await work(s) : await db.InTransactionAsync(context.Claims, work, ct);

    static readonly string[] QuestionStarts =
    [
        "what", "whats", "how", "hows", "when", "where", "wheres", "who", "whos", "why", "which", "do", "does", "did", "is", "are", "can",
        "could", "will", "would", "should", "have", "has", "may", "tell", "any",
    ];

    /// <summary>A caller turn that asks something: a question mark, or a question word at the start
    /// (after a filler such as "hi", "um", "so"), and at least three words.</summary>
    public static bool LooksLikeQuestion(string text)
    {
        var words = KnowledgeQuery.Normalize(text).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 3) return false;
        if (text.TrimEnd().EndsWith('?')) return true;
        var first = words.SkipWhile(w => Openers.Contains(w, StringComparer.Ordinal)).FirstOrDefault();
        return first is not null && QuestionStarts.Contains(first, StringComparer.Ordinal);
    }

    static readonly string[] Openers = ["hi", "hello", "hiya", "hey", "um", "uh", "er", "erm", "so", "ok", "okay", "and", "oh", "yeah", "well", "sorry", "also", "right"];

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Knowledge question for clinic {ClinicId} answered as {Kind}, not from the knowledge base")]
        public static partial void CareQuestion(ILogger logger, Guid clinicId, CareKind kind);

        [LoggerMessage(Level = LogLevel.Information, Message = "Knowledge gap recorded for clinic {ClinicId}")]
        public static partial void GapRecorded(ILogger logger, Guid clinicId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Knowledge gap for clinic {ClinicId} could not be recorded ({ExceptionType})")]
        public static partial void GapFailed(ILogger logger, Guid clinicId, string exceptionType);
    }
}
