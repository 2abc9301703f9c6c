namespace Frontdesk.Privacy.Detection;

public sealed class PiiDetectorOptions
{
    /// <summary>Candidates scoring below this are dropped. Context words lift a score; bare patterns sit near 0.5.</summary>
    public double Threshold { get; set; } = 0.5;

    /// <summary>Regions whose national phone formats are recognized (ISO 3166 codes); "+" international forms are always recognized.</summary>
    public IReadOnlyList<string> PhoneRegions { get; set; } = ["GB", "US"];

    /// <summary>Types to detect; null means all of <see cref="PiiTypes.All"/>.</summary>
    public IReadOnlySet<string>? Types { get; set; }
}
