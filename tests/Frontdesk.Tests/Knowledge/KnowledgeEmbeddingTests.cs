using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Bench;
using Frontdesk.Knowledge;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;

namespace Frontdesk.Tests.Knowledge;

/// <summary>Embeddings, when configured: stored per chunk, fused with the lexical ranking (RRF), and
/// a failing embedding service degrades to lexical search instead of failing the caller.</summary>
public class KnowledgeEmbeddingTests
{
    // "smile", "whitening", "teeth" share a concept; "parking", "car" another.
    static readonly Dictionary<string, int> Concepts = new()
    {
        ["smile"] = 1, ["whitening"] = 1, ["teeth"] = 1, ["tooth"] = 1, ["brighter"] = 1,
        ["parking"] = 2, ["car"] = 2, ["park"] = 2,
    };

    static async Task<(FakeEmbeddings Fake, Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> App)> StartAsync()
    {
        var fake = await FakeEmbeddings.StartAsync(Concepts, 8);
        var app = TestApp.Factory.WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_EMBEDDINGS_BASE_URL", fake.Url + "/v1");
            b.UseSetting("FRONTDESK_EMBEDDINGS_MODEL", "fake-embed");
        });
        return (fake, app);
    }

    static async Task<Guid> ClinicWithDocsAsync(HttpClient admin, Guid clinicId)
    {
        (await admin.PostAsJsonAsync($"/api/clinics/{clinicId}/knowledge/documents", new
        {
            title = "Dental hygiene", source = "dental.md", content = "# Dental hygiene\n\nOur hygienist offers professional tooth whitening in one visit.",
        })).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync($"/api/clinics/{clinicId}/knowledge/documents", new
        {
            title = "Getting here", source = "visiting.md", content = "# Getting here\n\nThere is a car park behind the clinic on Weymouth Mews.",
        })).EnsureSuccessStatusCode();
        return clinicId;
    }

    [Fact]
    public async Task With_embeddings_configured_chunks_are_embedded_and_a_paraphrase_finds_the_passage_lexical_search_misses()
    {
        var (fake, app) = await StartAsync();
        await using var _ = fake;
        await using var __ = app;
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = app.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", TestApp.Token(RequestClaims.ForClinic(c.Id, "kb-admin", "admin")));
        await ClinicWithDocsAsync(admin, c.Id);

        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from knowledge_chunks where clinic_id = $1 and embedding is null", c.Id));
        Assert.True(await TestApp.ScalarAsync<long>("select count(*) from knowledge_chunks where clinic_id = $1", c.Id) >= 2);

        // No word of the question is in the documents; the vectors agree ("smile" ~ "whitening").
        var hits = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{c.Id}/knowledge/search?q={Uri.EscapeDataString("how can I get a brighter smile")}&k=1"));
        Assert.Equal("dental.md", Assert.Single(hits.EnumerateArray()).GetProperty("source").GetString());

        // The same question without embeddings (the shared app) finds nothing.
        using var plain = TestApp.As(c.Id, "admin");
        var lexical = await TestClinic.Json(await plain.GetAsync($"/api/clinics/{c.Id}/knowledge/search?q={Uri.EscapeDataString("how can I get a brighter smile")}&k=1"));
        Assert.Empty(lexical.EnumerateArray());
    }

    [Fact]
    public async Task A_failing_embedding_service_leaves_search_lexical_and_uploads_succeeding()
    {
        var (fake, app) = await StartAsync();
        await using var _ = fake;
        await using var __ = app;
        fake.Down = true;
        var c = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = app.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", TestApp.Token(RequestClaims.ForClinic(c.Id, "kb-admin", "admin")));
        await ClinicWithDocsAsync(admin, c.Id);
        Assert.True(await TestApp.ScalarAsync<long>("select count(*) from knowledge_chunks where clinic_id = $1 and embedding is null", c.Id) >= 2);
        var hits = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{c.Id}/knowledge/search?q=car+park&k=1"));
        Assert.Equal("visiting.md", Assert.Single(hits.EnumerateArray()).GetProperty("source").GetString());
        Assert.True(fake.Requests > 0);
    }

    [Fact]
    public void Reciprocal_rank_fusion_prefers_agreement_and_keeps_either_lists_best()
    {
        static KnowledgeHit H(string s) => new(s, s, "", s, 0);
        var fused = KnowledgeEmbeddings.Fuse([H("a"), H("b"), H("c")], [H("c"), H("d"), H("a")], 3);
        // a: 1/61 + 1/63; c: 1/63 + 1/61 — equal, both above b (1/62) and d (1/62).
        Assert.Equal(["a", "c"], fused.Take(2).Select(h => h.Source).Order());
        Assert.Equal(3, fused.Count);
        Assert.True(fused[0].Score > fused[2].Score);
    }
}
