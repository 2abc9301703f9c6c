using System.Text.Json;
using Frontdesk.Knowledge;
using Frontdesk.Platform;

namespace Frontdesk.Bench;

/// <summary>Retrieval quality of the knowledge base: ingests a folder of documents into a fresh
/// clinic and asks the questions file ({question, relevant: [file…]}) through the real search.</summary>
public sealed class KbEvalCommand : IBenchCommand
{
    public string Name => "kb-eval";
    public string Summary => "DIR QUESTIONS [--json]: recall@3, recall@1 and MRR of knowledge search";

    public async Task<int> RunAsync(string[] args)
    {
        var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        if (positional.Length < 2)
        {
            Console.Error.WriteLine("usage: kb-eval DIR QUESTIONS [--json]");
            return 2;
        }
        var json = args.Contains("--json");
        await using var cluster = await BenchCluster.StartAsync();
        var clinic = await cluster.CreateClinicAsync("kb-eval");
        var claims = RequestClaims.ForClinic(clinic, "bench", "admin");
        foreach (var file in Directory.EnumerateFiles(positional[0]).Where(f => f.EndsWith(".md", StringComparison.Ordinal) || f.EndsWith(".txt", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var content = await File.ReadAllTextAsync(file);
            var title = Chunker.FirstH1(content) ?? Path.GetFileNameWithoutExtension(file);
            await cluster.Db.InTransactionAsync(claims, s => KnowledgeStore.IngestAsync(s, clinic, title, Path.GetFileName(file), content, default), default);
        }

        int n = 0, at1 = 0, at3 = 0;
        double rr = 0;
        var misses = new List<string>();
        foreach (var line in await File.ReadAllLinesAsync(positional[1]))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var q = JsonDocument.Parse(line).RootElement;
            var question = q.GetProperty("question").GetString()!;
            var relevant = q.GetProperty("relevant").EnumerateArray().Select(e => e.GetString()!).ToHashSet(StringComparer.Ordinal);
            var hits = await KnowledgeStore.SearchAsync(cluster.Db, claims, clinic, KnowledgeQuery.Parse(question), 10, default);
            var rank = hits.Select((h, i) => (h, i)).FirstOrDefault(x => relevant.Contains(x.h.Source)) is { h: not null } found ? found.i + 1 : 0;
            n++;
            if (rank == 1) at1++;
            if (rank is >= 1 and <= 3) at3++;
            if (rank > 0) rr += 1.0 / rank;
            if (rank is 0 or > 3)
                misses.Add($"  rank {(rank == 0 ? "-" : rank.ToString(System.Globalization.CultureInfo.InvariantCulture))}: {question} → top: {string.Join(", ", hits.Take(3).Select(h => h.Source))}");
        }
        var recall3 = n == 0 ? 0 : (double)at3 / n;
        var recall1 = n == 0 ? 0 : (double)at1 / n;
        var mrr = n == 0 ? 0 : rr / n;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { recallAt3 = Math.Round(recall3, 4), recallAt1 = Math.Round(recall1, 4), mrr = Math.Round(mrr, 4), questions = n }));
        }
        else
        {
            Console.WriteLine($"questions {n}  recall@3 {recall3:F3}  recall@1 {recall1:F3}  MRR {mrr:F3}");
            foreach (var m in misses) Console.WriteLine(m);
        }
        return 0;
    }
}
