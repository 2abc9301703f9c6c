using Frontdesk.Audit;
using Frontdesk.Tenancy;

namespace Frontdesk.Knowledge;

public sealed record SaveDocument(string Title, string Source, string Content);

public sealed record SavedDocument(Guid Id, int Chunks);

public sealed record SearchResult(string Source, string Title, string Text, double Score);

public sealed record AddSynonym(string Phrase, string Expansion);

public sealed record SynonymView(long Id, string Phrase, string Expansion);

public static class KnowledgeEndpoints
{
    public const int MaxK = 20;

    public static IServiceCollection AddKnowledge(this IServiceCollection services)
    {
        services.AddSingleton<KnowledgePrefetch>();
        services.AddSingleton<KnowledgeEmbeddings>();
        services.AddSingleton<Calls.IVapiTool, LookupKnowledgeTool>();
        services.AddSingleton<Calls.IVapiMessageHandler, KnowledgeBaseRequestHandler>();
        services.AddSingleton<Calls.IVapiMessageHandler>(sp => new PrefetchOnTranscript(sp.GetRequiredService<KnowledgePrefetch>()));
        // Vapi names final transcripts with this type when an assistant subscribes to them only.
        services.AddSingleton<Calls.IVapiMessageHandler>(sp => new PrefetchOnTranscript(sp.GetRequiredService<KnowledgePrefetch>(), "transcript[transcriptType=\"final\"]"));
        services.AddSingleton<Calls.IVapiMessageHandler>(sp => new PrefetchOnConversationUpdate(sp.GetRequiredService<KnowledgePrefetch>()));
        return services;
    }

    public static RouteGroupBuilder MapKnowledge(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/clinics/{clinicId:guid}/knowledge").WithTags("Knowledge")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter);
        group.MapPost("/documents", Save);
        group.MapGet("/documents", ListDocuments);
        group.MapDelete("/documents/{documentId:guid}", DeleteDocument);
        group.MapGet("/search", Search);
        group.MapPost("/synonyms", AddSynonymAsync);
        group.MapGet("/synonyms", ListSynonyms);
        return group;
    }

    internal static async Task<Results<Created<SavedDocument>, ProblemHttpResult>> Save(Guid clinicId, SaveDocument body, HttpContext http, Db db, CancellationToken ct)
    {
        var claims = http.Claims();
        if (claims.Deny(AppRoles.Admin, "Only a clinic admin may change the knowledge base") is { } denied) return denied;
        if (string.IsNullOrWhiteSpace(body.Title) || body.Title.Length > 300)
            return Problems.Invalid("title is required (at most 300 characters).");
        if (string.IsNullOrWhiteSpace(body.Source) || body.Source.Length > 500)
            return Problems.Invalid("source is required (at most 500 characters).");
        if (System.Text.Encoding.UTF8.GetByteCount(body.Content) > KnowledgeStore.MaxDocumentBytes)
            return Problems.Problem(413, Problems.PayloadTooLarge, "Document too large",
                $"A document may hold at most {KnowledgeStore.MaxDocumentBytes} bytes of UTF-8 text; split it into several.");
        if (string.IsNullOrWhiteSpace(body.Content))
            return Problems.Invalid("content is required.");
        // PostgreSQL text cannot hold NUL, and a lone surrogate is not text: both mean a binary upload.
        if (body.Content.Contains('\0', StringComparison.Ordinal) || body.Title.Contains('\0', StringComparison.Ordinal)
            || body.Source.Contains('\0', StringComparison.Ordinal) || !IsWellFormed(body.Content))
            return Problems.Invalid("content must be UTF-8 text (Markdown or plain text).");

        var (id, chunks) = await db.InTransactionAsync(claims,
            s => KnowledgeStore.IngestAsync(s, clinicId, body.Title.Trim(), body.Source.Trim(), body.Content, ct), ct);
        await http.RequestServices.GetRequiredService<KnowledgeEmbeddings>().StoreAsync(db, claims, clinicId, id, ct);
        return TypedResults.Created($"/api/clinics/{clinicId}/knowledge/documents/{id}", new SavedDocument(id, chunks));
    }

    static async Task<Ok<IReadOnlyList<KnowledgeStore.DocumentView>>> ListDocuments(Guid clinicId, HttpContext http, Db db, CancellationToken ct)
    {
        await using var s = await db.BeginAsync(http.Claims(), ct);
        return TypedResults.Ok(await KnowledgeStore.ListAsync(s, clinicId, ct));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteDocument(Guid clinicId, Guid documentId, HttpContext http, Db db, CancellationToken ct)
    {
        var claims = http.Claims();
        if (!claims.IsService && claims.AppRole is not ("admin" or null))
            return Problems.Problem(403, Problems.Forbidden, "Only a clinic admin may change the knowledge base");
        var deleted = await db.InTransactionAsync(claims, async s =>
        {
            var ok = await KnowledgeStore.DeleteAsync(s, clinicId, documentId, ct);
            if (ok) await AuditLog.WriteAsync(s, clinicId, "knowledge_document_deleted", "knowledge_document", documentId.ToString(), null, ct);
            return ok;
        }, ct);
        return deleted ? TypedResults.NoContent() : Problems.NotFoundProblem("Document");
    }

    static bool IsWellFormed(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            else if (char.IsSurrogate(s[i])) return false;
        }
        return true;
    }

    static async Task<Results<Ok<IReadOnlyList<SearchResult>>, ProblemHttpResult>> Search(
        Guid clinicId, string? q, int? k, HttpContext http, Db db, KnowledgeEmbeddings embeddings, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(q)) return Problems.Invalid("q is required.");
        if (q.Length > KnowledgeQuery.MaxQueryChars) return Problems.Invalid($"q may hold at most {KnowledgeQuery.MaxQueryChars} characters.");
        if (k is < 1 or > MaxK) return Problems.Invalid($"k must be between 1 and {MaxK}.");
        var hits = await KnowledgeStore.SearchAsync(db, http.Claims(), clinicId, KnowledgeQuery.Parse(q), k ?? 3, embeddings, ct);
        return TypedResults.Ok<IReadOnlyList<SearchResult>>(
            [.. hits.Select(h => new SearchResult(h.Source, h.Title, Chunker.Plain(h.Text), Math.Round(h.Score, 4)))]);
    }

    static async Task<Results<Created<SynonymView>, ProblemHttpResult>> AddSynonymAsync(Guid clinicId, AddSynonym body, HttpContext http, Db db, CancellationToken ct)
    {
        var claims = http.Claims();
        if (claims.Deny(AppRoles.Admin, "Only a clinic admin may change the knowledge base") is { } denied) return denied;
        var phrase = KnowledgeQuery.Normalize(body.Phrase ?? "");
        var expansion = KnowledgeQuery.Normalize(body.Expansion ?? "");
        if (phrase.Length is 0 or > 100 || expansion.Length is 0 or > 300)
            return Problems.Invalid("phrase (1–100) and expansion (1–300 characters of words) are required.");
        var view = await db.InTransactionAsync(claims, async s =>
        {
            var v = await s.QuerySingleOrDefaultAsync<SynonymView>("""
                insert into knowledge_synonyms (clinic_id, phrase, expansion) values (@ClinicId, @Phrase, @Expansion)
                on conflict (clinic_id, phrase, expansion) do update set phrase = excluded.phrase
                returning id, phrase, expansion
                """, new { ClinicId = clinicId, Phrase = phrase, Expansion = expansion }, ct);
            await AuditLog.WriteAsync(s, clinicId, "knowledge_synonym_added", "knowledge_synonym", v!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), null, ct);
            return v;
        }, ct);
        return TypedResults.Created($"/api/clinics/{clinicId}/knowledge/synonyms/{view.Id}", view);
    }

    static async Task<Ok<IReadOnlyList<SynonymView>>> ListSynonyms(Guid clinicId, HttpContext http, Db db, CancellationToken ct) =>
        TypedResults.Ok(await db.QueryOnceAsync<SynonymView>(http.Claims(),
            "select id, phrase, expansion from knowledge_synonyms where clinic_id = @ClinicId order by phrase, id", new { ClinicId = clinicId }, ct));
}
