using Frontdesk.Audit;

namespace Frontdesk.Knowledge;

public sealed record KnowledgeHit(string Source, string Title, string Heading, string Text, double Score);

/// <summary>Ingest and search of a clinic's knowledge base. Everything runs in the caller's tenant
/// transaction, so row-level security scopes every statement to one clinic.</summary>
public static class KnowledgeStore
{
    /// <summary>Documented limit (README): clinic documents are pages, not books. Above it → 413.</summary>
    public const int MaxDocumentBytes = 512 * 1024;

    /// <summary>Replaces (or creates) the document with this source and its chunks.</summary>
    public sealed record DocumentView(Guid Id, string Title, string Source, int Bytes, int Chunks, DateTimeOffset UpdatedAt);

    public static Task<IReadOnlyList<DocumentView>> ListAsync(DbSession s, Guid clinicId, CancellationToken ct) =>
        s.QueryAsync<DocumentView>("""
            select id, title, source, bytes, chunks, updated_at from knowledge_documents where clinic_id = @ClinicId order by lower(title), source
            """, new { ClinicId = clinicId }, ct);

    /// <summary>Removes a document with its chunks and postings, and its words from the clinic's
    /// document frequencies (the same bookkeeping as a replacement in <see cref="IngestAsync"/>).</summary>
    public static async Task<bool> DeleteAsync(DbSession s, Guid clinicId, Guid documentId, CancellationToken ct)
    {
        await s.ExecuteAsync("select pg_advisory_xact_lock(hashtextextended(@Key, 0))", new { Key = "knowledge:" + clinicId }, ct);
        var args = new { ClinicId = clinicId, DocumentId = documentId };
        await s.ExecuteAsync("""
            with old as (select word, ndoc from ts_stat(format('select tsv from knowledge_chunks where clinic_id = %L and document_id = %L', @ClinicId::text, @DocumentId::text)))
            update knowledge_lexemes l set df = l.df - old.ndoc from old where l.clinic_id = @ClinicId and l.lexeme = old.word
            """, args, ct);
        // Chunks and postings go with the document (on delete cascade).
        var n = await s.ExecuteAsync("delete from knowledge_documents where clinic_id = @ClinicId and id = @DocumentId", args, ct);
        await s.ExecuteAsync("delete from knowledge_lexemes where clinic_id = @ClinicId and df <= 0", args, ct);
        return n == 1;
    }

    public static async Task<(Guid Id, int Chunks)> IngestAsync(DbSession s, Guid clinicId, string title, string source, string content, CancellationToken ct)
    {
        var chunks = Chunker.Split(content);
        // The title field ranks with the document's own H1 (often a longer name: "Rhinoplasty (surgical nose reshaping)").
        var h1 = Chunker.FirstH1(content);
        var rankTitle = h1 is null || h1.Equals(title, StringComparison.OrdinalIgnoreCase) ? title : $"{title} {h1}";

        // Serialises ingests of one clinic: the lexeme counts are read-modify-write.
        await s.ExecuteAsync("select pg_advisory_xact_lock(hashtextextended(@Key, 0))", new { Key = "knowledge:" + clinicId }, ct);
        var id = await s.QuerySingleOrDefaultAsync<Guid>("""
            insert into knowledge_documents (clinic_id, source, title, bytes, chunks) values (@ClinicId, @Source, @Title, @Bytes, @Chunks)
            on conflict (clinic_id, source) do update set title = excluded.title, bytes = excluded.bytes, chunks = excluded.chunks, updated_at = now()
            returning id
            """, new { ClinicId = clinicId, Source = source, Title = title, Bytes = System.Text.Encoding.UTF8.GetByteCount(content), Chunks = chunks.Count }, ct);

        // The replaced chunks' lexemes leave the document-frequency table before the chunks go.
        await s.ExecuteAsync("""
            with old as (select word, ndoc from ts_stat(format('select tsv from knowledge_chunks where document_id = %L', @DocumentId::text)))
            update knowledge_lexemes l set df = l.df - old.ndoc from old where l.clinic_id = @ClinicId and l.lexeme = old.word
            """, new { ClinicId = clinicId, DocumentId = id }, ct);
        await s.ExecuteAsync("delete from knowledge_postings where clinic_id = @ClinicId and document_id = @DocumentId", new { ClinicId = clinicId, DocumentId = id }, ct);
        await s.ExecuteAsync("delete from knowledge_chunks where clinic_id = @ClinicId and document_id = @DocumentId", new { ClinicId = clinicId, DocumentId = id }, ct);
        await s.ExecuteAsync("delete from knowledge_lexemes where clinic_id = @ClinicId and df <= 0", new { ClinicId = clinicId }, ct);

        await s.ExecuteAsync("""
            insert into knowledge_chunks (clinic_id, document_id, ordinal, source, title, heading, body, tsv)
            select @ClinicId, @DocumentId, x.o, @Source, @Title, x.h, x.b,
                   setweight(to_tsvector('english', @RankTitle), 'A')
                || setweight(to_tsvector('english', x.h), 'B')
                || setweight(to_tsvector('english', x.b), 'D')
            from unnest(@Ordinals::int[], @Headings::text[], @Bodies::text[]) as x(o, h, b)
            """, new
        {
            ClinicId = clinicId, DocumentId = id, Source = source, Title = title, RankTitle = rankTitle,
            Ordinals = chunks.Select(c => c.Ordinal).ToArray(),
            Headings = chunks.Select(c => c.Heading).ToArray(),
            Bodies = chunks.Select(c => c.Body).ToArray(),
        }, ct);
        // Only plain lexemes get postings: query words are letters and digits, so nothing else is ever looked up.
        await s.ExecuteAsync("""
            insert into knowledge_postings (clinic_id, document_id, chunk_id, lexeme, weight)
            select c.clinic_id, c.document_id, c.id, u.lexeme, ts_rank('{0.4, 0.2, 0.7, 1.0}', c.tsv, quote_literal(u.lexeme)::tsquery, 1)
            from knowledge_chunks c cross join lateral unnest(c.tsv) u
            where c.clinic_id = @ClinicId and c.document_id = @DocumentId and u.lexeme ~ '^[[:alnum:]]+$'
            """, new { ClinicId = clinicId, DocumentId = id }, ct);
        await s.ExecuteAsync("""
            insert into knowledge_lexemes (clinic_id, lexeme, df)
            select @ClinicId, word, ndoc from ts_stat(format('select tsv from knowledge_chunks where document_id = %L', @DocumentId::text))
            on conflict (clinic_id, lexeme) do update set df = knowledge_lexemes.df + excluded.df
            """, new { ClinicId = clinicId, DocumentId = id }, ct);
        await AuditLog.WriteAsync(s, clinicId, "knowledge_document_saved", "knowledge_document", id.ToString(),
            new { chunks = chunks.Count, bytes = System.Text.Encoding.UTF8.GetByteCount(content) }, ct);
        return (id, chunks.Count);
    }

    /// <summary>
    /// Lexical ranking, one statement, one round trip. For the query's lexemes t (stemmed with the
    /// English configuration; stop words drop out) with boost b_t and a clinic's chunks c:
    ///
    ///   score(c) = Σ_t  b_t · idf_t · ts_rank({D 0.4, C 0.2, B 0.7, A 1.0}, tsv_c, t, 1)   (over the top 100 chunks per t)
    ///   idf_t    = ln(1 + (N − df_t + 0.5) / (df_t + 0.5))        (BM25's IDF; N = the clinic's chunks)
    ///
    /// tsv weighs the document title A, the heading path B and the body D. b_t is 1 for a word the
    /// caller said and 0.8 for a word a synonym added. A query word whose stem is not in the clinic's
    /// vocabulary (knowledge_lexemes) is taken as a misspelling and replaced by the most similar
    /// lexeme by trigrams (similarity ≥ 0.5, words of 4+ letters), its boost multiplied by that
    /// similarity. At most two chunks of one document are returned, so the top k can hold the
    /// answer's neighbours from other documents. ts_rank(…, 1) is the term's field-weighted,
    /// position-discounted frequency divided by log2(1 + chunk length); it is computed once per chunk
    /// and lexeme at ingest (knowledge_postings), and a query reads each term's 100 best postings
    /// (impact-ordered pruning: a common word's weakest matches, which add little, are not read).
    /// The SQL is the function knowledge_search
    /// (migration 20261124000400_knowledge.sql).
    /// </summary>
    public const string SearchSql = """
        select source, title, heading, body, score
        from knowledge_search(@ClinicId, @Words::text[], @Boosts::real[], @Padded, @SynonymBoost::real, @K)
        """;

    public static Task<IReadOnlyList<KnowledgeHit>> SearchAsync(Db db, RequestClaims claims, Guid clinicId, KnowledgeQuery query, int k, CancellationToken ct) =>
        SearchAsync(db, claims, clinicId, query, k, null, ct);

    /// <summary>Lexical ranking, fused with vector ranking when embeddings are configured.</summary>
    public static async Task<IReadOnlyList<KnowledgeHit>> SearchAsync(Db db, RequestClaims claims, Guid clinicId, KnowledgeQuery query, int k,
        KnowledgeEmbeddings? embeddings, CancellationToken ct)
    {
        if (embeddings is { Enabled: true } && query.Normalized.Length > 0)
            return await embeddings.SearchFusedAsync(db, claims, clinicId, query, k, ct);
        return await LexicalAsync(db, claims, clinicId, query, k, ct);
    }

    public static async Task<IReadOnlyList<KnowledgeHit>> LexicalAsync(Db db, RequestClaims claims, Guid clinicId, KnowledgeQuery query, int k, CancellationToken ct) =>
        query.IsEmpty ? [] : await db.QueryOnceAsync<KnowledgeHit>(claims, SearchSql, Args(clinicId, query, k), ct);

    public static Task<IReadOnlyList<KnowledgeHit>> SearchAsync(DbSession s, Guid clinicId, KnowledgeQuery query, int k, CancellationToken ct) =>
        query.IsEmpty ? Task.FromResult<IReadOnlyList<KnowledgeHit>>([]) : s.QueryAsync<KnowledgeHit>(SearchSql, Args(clinicId, query, k), ct);

    static object Args(Guid clinicId, KnowledgeQuery query, int k) => new
    {
        ClinicId = clinicId,
        Words = query.Words.ToArray(),
        Boosts = query.Boosts.ToArray(),
        SynonymBoost = KnowledgeQuery.SynonymBoost,
        Padded = $" {query.Normalized} ",
        K = k,
    };
}
