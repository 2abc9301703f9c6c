using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Frontdesk.Knowledge;
using Frontdesk.Platform;

namespace Frontdesk.Bench;

/// <summary>Knowledge search under load: one clinic with ~10,000 chunks (the shared corpus's
/// sentences recombined, so common words are as common as in real clinic pages), N concurrent
/// searchers asking caller-style questions; server time per search (query parse + one SQL round trip).</summary>
public sealed class LoadKbCommand : IBenchCommand
{
    public string Name => "load kb";
    public string Summary => "[--chunks 10000] [--concurrency 50] [--seconds 15] [--corpus DIR] [--questions FILE]: search p50/p95/p99";

    public async Task<int> RunAsync(string[] args)
    {
        var chunks = Arg(args, "--chunks", 10_000);
        var concurrency = Arg(args, "--concurrency", 50);
        var seconds = Arg(args, "--seconds", 15);
        var corpus = ArgS(args, "--corpus") ?? Paths.Corpus();
        var questionsFile = ArgS(args, "--questions") ?? Paths.Questions();

        await using var cluster = await BenchCluster.StartAsync();
        var clinic = await cluster.CreateClinicAsync("load-kb");
        var claims = RequestClaims.ForClinic(clinic, "bench", "admin");

        // The real corpus first, then synthetic documents of 20 paragraphs recombined from its sentences.
        var sentences = new List<string>();
        var docs = 0;
        foreach (var file in Directory.EnumerateFiles(corpus, "*.md").Order(StringComparer.Ordinal))
        {
            var text = await File.ReadAllTextAsync(file);
            await cluster.Db.InTransactionAsync(claims, s => KnowledgeStore.IngestAsync(s, clinic, Chunker.FirstH1(text) ?? file, Path.GetFileName(file), text, default), default);
            sentences.AddRange(Chunker.Split(text).SelectMany(c => Chunker.Plain(c.Body).Split(". ", StringSplitOptions.RemoveEmptyEntries)));
            docs++;
        }
        var rng = new Random(42);
        var total = await CountAsync(cluster, claims, clinic);
        var sw = Stopwatch.StartNew();
        for (var d = 0; total < chunks; d++)
        {
            var sb = new StringBuilder($"# Synthetic page {d}\n\n");
            for (var p = 0; p < 20; p++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"## Section {p}\n\n");
                for (var s = 0; s < 3; s++) sb.Append(sentences[rng.Next(sentences.Count)]).Append(". ");
                sb.Append(CultureInfo.InvariantCulture, $"Reference code zx{d}q{p}.\n\n");
            }
            var doc = sb.ToString();
            total += await cluster.Db.InTransactionAsync(claims, async s => (await KnowledgeStore.IngestAsync(s, clinic, $"Synthetic page {d}", $"synthetic-{d}.md", doc, default)).Chunks, default);
            docs++;
        }
        await cluster.AnalyzeAsync();   // what autovacuum does on a live server after a bulk load
        Console.WriteLine($"ingested {docs} documents, {total} chunks in {sw.Elapsed.TotalSeconds:F1} s");

        var questions = (await File.ReadAllLinesAsync(questionsFile)).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("question").GetString()!).ToArray();
        if (args.Contains("--profile"))
        {
            // Where a search's time goes: the whole call, the word resolution alone (k = 0), the bare round trip.
            foreach (var (label, sql, k) in new[] { ("search k=3", KnowledgeStore.SearchSql, 3), ("resolve only (k=0)", KnowledgeStore.SearchSql, 0), ("select 1", "select 1", 0) })
            {
                var times = new List<double>();
                for (var r = 0; r < 3; r++)
                    foreach (var q in questions)
                    {
                        var kq = KnowledgeQuery.Parse(q);
                        var t0 = Stopwatch.GetTimestamp();
                        await cluster.Db.QueryOnceAsync<object>(claims, sql, new { ClinicId = clinic, Words = kq.Words.ToArray(), Boosts = kq.Boosts.ToArray(), SynonymBoost = KnowledgeQuery.SynonymBoost, Padded = $" {kq.Normalized} ", K = k }, default);
                        times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    }
                times.Sort();
                Console.WriteLine($"{label,-20} p50 {Percentiles.Of(times, 50):F2} ms  p95 {Percentiles.Of(times, 95):F2} ms");
            }
            return 0;
        }
        if (args.Contains("--explain"))
        {
            // One searcher: where the time goes, question by question (plans of slow statements in the server log).
            await using (var admin = new Npgsql.NpgsqlConnection(cluster.AdminConnectionString))
            {
                await admin.OpenAsync();
                foreach (var sql in (string[])["load 'auto_explain'", "alter system set session_preload_libraries = 'auto_explain'", "alter system set auto_explain.log_min_duration = 8",
                             "alter system set auto_explain.log_nested_statements = on", "alter system set auto_explain.log_analyze = on", "select pg_reload_conf()"])
                    await new Npgsql.NpgsqlCommand(sql, admin).ExecuteNonQueryAsync();
            }
            cluster.AppDataSource.Clear();
            foreach (var q in questions.Concat(questions))
            {
                var t0 = Stopwatch.GetTimestamp();
                await KnowledgeStore.SearchAsync(cluster.Db, claims, clinic, KnowledgeQuery.Parse(q), 3, default);
                var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                var words = KnowledgeQuery.Parse(q).Words;
                var df = await cluster.Db.QueryOnceAsync<string>(claims, "select string_agg(lexeme || ':' || df, ' ') from knowledge_lexemes where clinic_id = @C and lexeme = any(select (unnest(to_tsvector('english', array_to_string(@W::text[], ' ')))).lexeme)", new { C = clinic, W = words.ToArray() }, default);
                Console.WriteLine($"{ms,8:F2} ms  {q}  [{df[0]}]");
            }
            return 0;
        }
        // Warm-up: plans cached, pages in memory.
        foreach (var q in questions) await KnowledgeStore.SearchAsync(cluster.Db, claims, clinic, KnowledgeQuery.Parse(q), 3, default);

        var latencies = new List<double>[concurrency];
        var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var run = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var mine = latencies[w] = [];
            var i = w;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var q = questions[i++ % questions.Length];
                var t0 = Stopwatch.GetTimestamp();
                await KnowledgeStore.SearchAsync(cluster.Db, claims, clinic, KnowledgeQuery.Parse(q), 3, default);
                mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        })));
        var all = latencies.SelectMany(l => l).Order().ToList();
        Console.WriteLine($"load kb: {total} chunks, {concurrency} concurrent searchers, {all.Count} searches in {run.Elapsed.TotalSeconds:F1} s ({all.Count / run.Elapsed.TotalSeconds:F0}/s)");
        Console.WriteLine($"server time per search (ms): p50 {Percentiles.Of(all, 50):F2}  p95 {Percentiles.Of(all, 95):F2}  p99 {Percentiles.Of(all, 99):F2}  max {all[^1]:F2}");
        return 0;
    }

    static async Task<int> CountAsync(BenchCluster cluster, RequestClaims claims, Guid clinic) =>
        (int)(await cluster.Db.QueryOnceAsync<long>(claims, "select count(*) from knowledge_chunks where clinic_id = @C", new { C = clinic }, default))[0];

    internal static int Arg(string[] args, string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;

    internal static string? ArgS(string[] args, string name) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static class Paths
{
    /// <summary>shared/ sits beside the repository or worktree.</summary>
    static string Shared()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "shared", "data", "kb"))) return Path.Combine(dir.FullName, "shared", "data", "kb");
        throw new DirectoryNotFoundException("shared/data/kb not found above the working directory; pass --corpus and --questions.");
    }

    public static string Corpus() => Path.Combine(Shared(), "harley-street-aesthetics");
    public static string Questions() => Path.Combine(Shared(), "dev-questions.jsonl");
}
