using Frontdesk.Audit;
using Frontdesk.Knowledge;

namespace Frontdesk.Reception;

/// <summary>API.md "Reception": <c>{id, question, count, lastAskedAt, status}</c>, plus when it was first asked
/// and the knowledge document that answers it.</summary>
public sealed record KnowledgeGapView(Guid Id, string Question, int Count, DateTimeOffset LastAskedAt, string Status, DateTimeOffset FirstAskedAt,
    Guid? DocumentId, DateTimeOffset? AnsweredAt);

public sealed record AnswerGap(string? Answer = null);

public abstract record GapAnswer
{
    public sealed record Answered(KnowledgeGapView Gap) : GapAnswer;
    public sealed record NotFound : GapAnswer;
}

/// <summary>
/// What callers asked that the knowledge base could not answer. A question is stored with the
/// values the PII detector finds replaced by placeholders (the callback reason's rule), and counts up
/// an open gap when its normalized text is the same or similar enough by trigrams (pg_trgm's
/// similarity ≥ <see cref="ReceptionOptions.GapSimilarity"/>); a per-clinic advisory lock makes the
/// find-or-insert one decision at a time. Answering saves a knowledge document (source <c>gap:{id}</c>,
/// titled with the question) and closes the gap, so the next caller's search finds it.
/// </summary>
public sealed class KnowledgeGaps(Callbacks callbacks, ReceptionOptions options)
{
    public const string Open = "open", Answered = "answered";
    public const int MaxAnswerChars = 4000;
    const int ListLimit = 500;

    public static string SourceOf(Guid id) => $"gap:{id}";

    /// <summary>Records (or counts up) the gap for <paramref name="question"/>; returns its id, or null when
    /// nothing is left of the question once normalized.</summary>
    public async Task<Guid?> RecordAsync(DbSession s, Guid clinicId, string question, CancellationToken ct)
    {
        var clean = callbacks.Sanitize(question.Trim());
        if (clean.Length > 500) clean = clean[..500];
        var normalized = KnowledgeQuery.Normalize(clean);
        if (normalized.Length == 0) return null;
        await s.ExecuteAsync("select pg_advisory_xact_lock(hashtextextended(@Key, 0))", new { Key = "knowledge-gaps:" + clinicId }, ct);
        var similar = await s.QuerySingleOrDefaultAsync<Guid?>("""
            select id from knowledge_gaps
            where clinic_id = @C and status = 'open' and (normalized = @N or similarity(normalized, @N) >= @Similarity)
            order by normalized = @N desc, similarity(normalized, @N) desc, last_asked_at desc
            limit 1
            """, new { C = clinicId, N = normalized, Similarity = options.GapSimilarity }, ct);
        if (similar is { } id)
        {
            await s.ExecuteAsync("""
                update knowledge_gaps set asked_count = asked_count + 1, last_asked_at = now() where clinic_id = @C and id = @Id
                """, new { C = clinicId, Id = id }, ct);
            return id;
        }
        return await s.QuerySingleOrDefaultAsync<Guid>("""
            insert into knowledge_gaps (clinic_id, question, normalized) values (@C, @Q, @N) returning id
            """, new { C = clinicId, Q = clean, N = normalized }, ct);
    }

    const string Columns = "id, question, asked_count, last_asked_at, status, first_asked_at, document_id, answered_at";

    /// <summary>A clinic's gaps with <paramref name="status"/> (null: all): the most asked first, then the latest.</summary>
    public static Task<IReadOnlyList<KnowledgeGapView>> ListAsync(DbSession s, Guid clinicId, string? status, CancellationToken ct) =>
        s.QueryAsync<KnowledgeGapView>($"""
            select {Columns} from knowledge_gaps
            where clinic_id = @C and (@Status::text is null or status = @Status)
            order by asked_count desc, last_asked_at desc
            limit {ListLimit}
            """, new { C = clinicId, Status = status }, ct);

    /// <summary>The answer becomes the knowledge document <c>gap:{id}</c> (answering again replaces it) and the gap is answered.</summary>
    public static async Task<GapAnswer> AnswerAsync(DbSession s, Guid clinicId, Guid id, string answer, CancellationToken ct)
    {
        var question = await s.QuerySingleOrDefaultAsync<string>(
            "select question from knowledge_gaps where clinic_id = @C and id = @Id for update", new { C = clinicId, Id = id }, ct);
        if (question is null) return new GapAnswer.NotFound();
        var title = question.Length <= 300 ? question : question[..300];
        var (documentId, _) = await KnowledgeStore.IngestAsync(s, clinicId, title, SourceOf(id), $"# {title}\n\n{answer.Trim()}\n", ct);
        var view = await s.QuerySingleOrDefaultAsync<KnowledgeGapView>($"""
            update knowledge_gaps set status = 'answered', document_id = @Doc, answered_by = @Actor, answered_at = now()
            where clinic_id = @C and id = @Id
            returning {Columns}
            """, new { C = clinicId, Id = id, Doc = documentId, Actor = s.Claims.Actor.Length <= 200 ? s.Claims.Actor : s.Claims.Actor[..200] }, ct);
        await AuditLog.WriteAsync(s, clinicId, "knowledge_gap_answered", "knowledge_gap", id.ToString(), new { documentId }, ct);
        return new GapAnswer.Answered(view!);
    }
}
