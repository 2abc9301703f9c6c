using Frontdesk.Calls;
using Frontdesk.Knowledge;

namespace Frontdesk.Reception;

/// <summary>What the voice agent gets for a caller's question: a spoken answer that replaces the
/// knowledge base (<see cref="Spoken"/>: the consultation offer or the emergency instruction), or the
/// knowledge base's passages. When the best passage is not relevant enough the question was recorded
/// as a gap (<see cref="GapId"/>); the weak passages, if any, still go to the model, which is told
/// they may not answer — a borderline question costs a gap row, never a withheld answer.</summary>
public sealed record KnowledgeAnswer(CareKind Care, string? Spoken, IReadOnlyList<KnowledgeHit> Hits, Guid? GapId);

/// <summary>
/// The path every knowledge question of a call takes (lookup_knowledge and knowledge-base-request):
/// clinical advice and emergencies are not answered from the knowledge base (<see cref="CareQuestions"/>;
/// an emergency also opens an urgent callback), and a question whose best passage's relevance (see
/// <see cref="Relevance"/>) is below <see cref="ReceptionOptions.GapScoreThreshold"/> is recorded as a knowledge gap.
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
        if (await RelevanceAsync(context, question, hits, ct) >= options.GapScoreThreshold)
            return new KnowledgeAnswer(CareKind.None, null, hits, null);
        if (!explicitQuestion && !LooksLikeQuestion(question)) return new KnowledgeAnswer(CareKind.None, null, hits, null);

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
        return new KnowledgeAnswer(CareKind.None, null, hits, gap);
    }

    /// <summary>
    /// How well the best passage answers, independent of the size of the clinic's knowledge base: its
    /// lexical score (KnowledgeStore.SearchSql; the hits' own, or — when searches fuse embeddings, whose
    /// scores are ranks — a lexical search's) divided by the IDF of a word found in one of the clinic's
    /// N chunks, ln(1 + (N − 0.5) / 1.5). The raw score grows with N (a five-document base scores the
    /// same match ten times lower than a five-hundred-document one), so a fixed threshold on it would
    /// turn every question of a small base into a gap, the answered ones included. Measured on the shared
    /// corpus (N = 60): answerable questions 0.087 and up, unrelated ones 0.064 and down.
    /// </summary>
    async Task<double> RelevanceAsync(VapiContext context, string question, IReadOnlyList<KnowledgeHit> hits, CancellationToken ct)
    {
        if (hits.Count == 0) return 0;
        var best = hits.Max(h => h.Score);
        if (embeddings.Enabled)
            best = await KnowledgeStore.LexicalAsync(db, context.Claims, context.Clinic.Id, KnowledgeQuery.Parse(question), 1, ct) is [var top, ..] ? top.Score : 0;
        if (best <= 0) return 0;
        var chunks = await db.QueryOnceAsync<long>(context.Claims,
            "select coalesce(sum(chunks), 0)::bigint from knowledge_documents where clinic_id = @C", new { C = context.Clinic.Id }, ct);
        return Relevance(best, chunks.Count == 0 ? 0 : chunks[0]);
    }

    public static double Relevance(double score, long chunks) => chunks <= 0 ? 0 : score / Math.Log(1 + (chunks - 0.5) / 1.5);

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
