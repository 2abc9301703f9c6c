using System.ComponentModel.DataAnnotations;

namespace Frontdesk.Reception;

/// <summary>Reception settings of the service (section <c>Reception</c>: <c>Reception__GapScoreThreshold</c>, …).</summary>
public sealed class ReceptionOptions
{
    /// <summary>A knowledge answer whose best passage scores below this (the lexical ranking's score,
    /// KnowledgeStore.SearchSql) is no answer: the question is recorded as a knowledge gap. Measured on
    /// the shared corpus: answerable caller questions score 0.32 and up, unrelated ones 0.24 and down.</summary>
    [Range(0.0, 100.0)] public double GapScoreThreshold { get; set; } = 0.3;

    /// <summary>Trigram similarity (pg_trgm) from which a new unanswered question counts up an open gap
    /// instead of opening another.</summary>
    [Range(0.1, 1.0)] public double GapSimilarity { get; set; } = 0.6;

    /// <summary>How long assistant-request waits for the caller's details and the opening hours before
    /// it answers without them (Vapi gives the whole request 7.5 s).</summary>
    [Range(50, 5000)] public int CallerLookupBudgetMs { get; set; } = 1500;
}
