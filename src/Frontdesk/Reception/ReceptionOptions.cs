using System.ComponentModel.DataAnnotations;

namespace Frontdesk.Reception;

/// <summary>Reception settings of the service (section <c>Reception</c>: <c>Reception__GapScoreThreshold</c>, …).</summary>
public sealed class ReceptionOptions
{
    /// <summary>A knowledge answer whose best passage's relevance is below this records a knowledge gap.
    /// Relevance is the lexical score divided by the IDF of a word in one of the clinic's chunks
    /// (KnowledgeTriage.Relevance), so it does not depend on how big the knowledge base is. Measured on the
    /// shared corpus: answerable caller questions 0.087 and up, unrelated ones 0.064 and down.</summary>
    [Range(0.0, 10.0)] public double GapScoreThreshold { get; set; } = 0.075;

    /// <summary>Trigram similarity (pg_trgm) from which a new unanswered question counts up an open gap
    /// instead of opening another.</summary>
    [Range(0.1, 1.0)] public double GapSimilarity { get; set; } = 0.6;

    /// <summary>How long assistant-request waits for the caller's details and the opening hours before
    /// it answers without them (Vapi gives the whole request 7.5 s).</summary>
    [Range(50, 5000)] public int CallerLookupBudgetMs { get; set; } = 1500;
}
