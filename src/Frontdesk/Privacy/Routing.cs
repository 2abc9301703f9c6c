using Frontdesk.Privacy.Detection;

namespace Frontdesk.Privacy;

/// <summary>The seed's routing table: where each detected type is stored and whether it is encrypted.</summary>
public static class Routing
{
    public const string Contacts = "contacts", SecureIdentifiers = "secure_identifiers", ClinicalNotes = "clinical_notes";

    public static (string Table, bool Encrypted) For(string type) => type switch
    {
        PiiTypes.Email or PiiTypes.Phone or PiiTypes.Address or PiiTypes.Name => (Contacts, false),
        PiiTypes.Ssn or PiiTypes.NhsNumber or PiiTypes.NiNumber or PiiTypes.CreditCard => (SecureIdentifiers, true),
        // Not in the seed's table: a date of birth identifies a person, so it is kept like an identifier.
        PiiTypes.DateOfBirth => (SecureIdentifiers, true),
        PiiTypes.Medical or PiiTypes.Allergy or PiiTypes.Medication => (ClinicalNotes, true),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "No route for this entity type."),
    };

    /// <summary>Each entity replaced by its type placeholder ([ADDRESS], [MEDICAL], …).</summary>
    public static string PublicTranscript(string text, IReadOnlyList<DetectedEntity> entities)
    {
        var sb = new System.Text.StringBuilder(text.Length);
        var at = 0;
        foreach (var e in entities.OrderBy(e => e.StartPos))
        {
            if (e.StartPos < at) continue;
            sb.Append(text, at, e.StartPos - at).Append('[').Append(e.Type.ToUpperInvariant()).Append(']');
            at = e.EndPos;
        }
        return sb.Append(text, at, text.Length - at).ToString();
    }

    static readonly (string[] Types, string Phrase)[] Categories =
    [
        ([PiiTypes.Medical], "health concern"),
        ([PiiTypes.Allergy], "allergy"),
        ([PiiTypes.Medication], "medication"),
        ([PiiTypes.Address], "location preference"),
        ([PiiTypes.Email, PiiTypes.Phone], "contact details"),
        ([PiiTypes.Name], "their name"),
        ([PiiTypes.DateOfBirth], "date of birth"),
        ([PiiTypes.Ssn, PiiTypes.NhsNumber, PiiTypes.NiNumber], "an identification number"),
        ([PiiTypes.CreditCard], "payment card details"),
    ];

    /// <summary>The seed's one-line public log: "Patient mentioned health concern and location preference".</summary>
    public static string Summary(IReadOnlyList<DetectedEntity> entities)
    {
        var present = entities.Select(e => e.Type).ToHashSet(StringComparer.Ordinal);
        var phrases = Categories.Where(c => c.Types.Any(present.Contains)).Select(c => c.Phrase).ToList();
        return phrases.Count switch
        {
            0 => "Patient mentioned no personal details",
            1 => $"Patient mentioned {phrases[0]}",
            _ => $"Patient mentioned {string.Join(", ", phrases.Take(phrases.Count - 1))} and {phrases[^1]}",
        };
    }
}
