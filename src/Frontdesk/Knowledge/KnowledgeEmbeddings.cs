using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Frontdesk.Knowledge;

/// <summary>
/// Optional vector ranking beside the lexical one. With FRONTDESK_EMBEDDINGS_BASE_URL set (an
/// OpenAI-compatible /embeddings endpoint; _API_KEY, _MODEL), every chunk is embedded after its
/// document is saved and searches fuse the two rankings by reciprocal rank fusion:
///
///   fused(c) = 1 / (60 + rank_lexical(c)) + 1 / (60 + rank_vector(c))      (a missing rank adds 0)
///
/// over the top 20 of each. pgvector is not available here, so cosine similarity is computed in SQL
/// over the float4[] column — linear in the clinic's chunks, fine for a clinic's few thousand. Unset,
/// or when the embedding service fails, search is lexical only: a caller always gets an answer.
/// </summary>
public sealed partial class KnowledgeEmbeddings
{
    const int Candidates = 20, RrfK = 60;

    readonly ILogger<KnowledgeEmbeddings> _log;

    public IEmbeddingGenerator<string, Embedding<float>>? Generator { get; }
    public bool Enabled => Generator is not null;

    public KnowledgeEmbeddings(IConfiguration config, ILogger<KnowledgeEmbeddings> log)
    {
        _log = log;
        if (config["FRONTDESK_EMBEDDINGS_BASE_URL"] is not { Length: > 0 } baseUrl) return;
        var client = new OpenAIClient(new ApiKeyCredential(config["FRONTDESK_EMBEDDINGS_API_KEY"] is { Length: > 0 } k ? k : "unused"),
            new OpenAIClientOptions { Endpoint = new Uri(baseUrl), NetworkTimeout = TimeSpan.FromSeconds(10), RetryPolicy = new ClientRetryPolicy(maxRetries: 1) });
        Generator = client.GetEmbeddingClient(config["FRONTDESK_EMBEDDINGS_MODEL"] is { Length: > 0 } m ? m : "text-embedding-3-small").AsIEmbeddingGenerator();
    }

    sealed record ChunkText(long Id, string Text);

    /// <summary>Embeds a saved document's chunks. Runs after the document commits: an embedding
    /// outage leaves the chunks lexical-only, never fails the upload.</summary>
    public async Task<int> StoreAsync(Db db, RequestClaims claims, Guid clinicId, Guid documentId, CancellationToken ct)
    {
        if (Generator is null) return 0;
        try
        {
            var chunks = await db.QueryOnceAsync<ChunkText>(claims, """
                select id, concat_ws(' — ', title, nullif(heading, ''), body) from knowledge_chunks
                where clinic_id = @C and document_id = @D order by ordinal
                """, new { C = clinicId, D = documentId }, ct);
            if (chunks.Count == 0) return 0;
            var vectors = await Generator.GenerateAsync(chunks.Select(c => c.Text), cancellationToken: ct);
            await using var s = await db.BeginAsync(claims, ct);
            for (var i = 0; i < chunks.Count; i++)
                await s.ExecuteAsync("update knowledge_chunks set embedding = @E where id = @Id and clinic_id = @C",
                    new { E = vectors[i].Vector.ToArray(), Id = chunks[i].Id, C = clinicId }, ct);
            await s.CommitAsync(ct);
            return chunks.Count;
        }
        catch (Exception e) when (e is HttpRequestException or ClientResultException or TaskCanceledException or InvalidOperationException)
        {
            Log.EmbeddingFailed(_log, e.GetType().Name);
            return 0;
        }
    }

    /// <summary>Lexical and vector rankings fused; lexical only if the embedding call fails.</summary>
    public async Task<IReadOnlyList<KnowledgeHit>> SearchFusedAsync(Db db, RequestClaims claims, Guid clinicId, KnowledgeQuery query, int k, CancellationToken ct)
    {
        var lexical = await KnowledgeStore.LexicalAsync(db, claims, clinicId, query, Candidates, ct);
        float[] q;
        try
        {
            q = (await Generator!.GenerateAsync([query.Normalized], cancellationToken: ct))[0].Vector.ToArray();
        }
        catch (Exception e) when (e is HttpRequestException or ClientResultException or TaskCanceledException)
        {
            Log.EmbeddingFailed(_log, e.GetType().Name);
            return lexical.Take(k).ToList();
        }
        var norm = Math.Sqrt(q.Sum(x => (double)x * x));
        var vector = norm == 0 ? [] : await db.QueryOnceAsync<KnowledgeHit>(claims, """
            select source, title, heading, body, score from (
              select source, title, heading, body,
                     (select sum(a * b) from unnest(embedding, @Q::real[]) t(a, b))
                       / nullif(sqrt((select sum(a * a) from unnest(embedding) a)) * @Norm, 0) as score
              from knowledge_chunks where clinic_id = @C and embedding is not null) x
            where score is not null
            order by score desc limit @N
            """, new { C = clinicId, Q = q, Norm = norm, N = Candidates }, ct);
        return Fuse(lexical, vector, k);
    }

    /// <summary>Reciprocal rank fusion of two best-first lists; a chunk is identified by source and text.</summary>
    public static IReadOnlyList<KnowledgeHit> Fuse(IReadOnlyList<KnowledgeHit> lexical, IReadOnlyList<KnowledgeHit> vector, int k)
    {
        var fused = new Dictionary<(string, string), (KnowledgeHit Hit, double Score)>();
        foreach (var list in new[] { lexical, vector })
            for (var rank = 0; rank < list.Count; rank++)
            {
                var key = (list[rank].Source, list[rank].Text);
                var add = 1.0 / (RrfK + rank + 1);
                fused[key] = fused.TryGetValue(key, out var cur) ? (cur.Hit, cur.Score + add) : (list[rank], add);
            }
        return fused.Values.OrderByDescending(v => v.Score).Take(k).Select(v => v.Hit with { Score = v.Score }).ToList();
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Embedding service failed ({ExceptionType}); knowledge search is lexical for this request")]
        public static partial void EmbeddingFailed(ILogger logger, string exceptionType);
    }
}
