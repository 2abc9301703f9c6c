using System.Buffers;
using System.Text.RegularExpressions;

namespace Frontdesk.Privacy.Detection;

/// <summary>
/// Street addresses, PO boxes, military addresses, UK postcodes and US state + ZIP. A street is found by its shape
/// (house number + name + suffix, a European street word + number, "the corner of A and B"), then extended over the
/// flat or suite, town, region, postcode and country that follow on the same line or on following address-only lines.
/// </summary>
/// <remarks>
/// Span convention (matches the Presidio benchmark's gold labels): an address written inside a sentence or after an
/// "Address:" label is one span; an address laid out as a mailing label (starting its own line, one field per line)
/// is one span per field — building number, street, flat, town, postcode — so each field can be kept or redacted.
/// </remarks>
internal sealed partial class AddressRecognizer : IRecognizer
{
    private static readonly SearchValues<string> Cues = Context.Words(
        "address", "live at", "lives at", "living at", "live on", "lives on", "located at", "send", "sent to", "deliver",
        "post it", "moved to", "my house", "meet me at", "meet you at", "located", "taxi to", "drops you off", "return to");

    private static readonly SearchValues<string> MilitaryMarks = Context.Words("apo ", "fpo ", "dpo ");

    public IEnumerable<string> Types => [PiiTypes.Address];

    private readonly record struct Core(int Start, int End, int BuildingEnd, double Score, bool Whole);

    public void Recognize(string text, List<DetectedEntity> candidates)
    {
        if (!MayContainAddress(text)) return;
        var cores = new List<Core>();
        AddCores(text, cores);
        cores.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.End.CompareTo(a.End));

        var coveredTo = -1;
        foreach (var core in cores)
        {
            if (core.Start < coveredTo) continue;
            coveredTo = Emit(text, core, candidates);
        }

        foreach (Match m in ZipWithCue().Matches(text))
        {
            var z = m.Groups["zip"];
            if (z.Index >= coveredTo || !Overlaps(candidates, z.Index, z.Index + z.Length))
                candidates.Add(text, PiiTypes.Address, z.Index, z.Index + z.Length, 0.85);
        }
        if (!HasDigitRun(text, 5)) return;
        foreach (var m in StatePostal().EnumerateMatches(text))
        {
            if (!Overlaps(candidates, m.Index, m.Index + m.Length)) candidates.Add(text, PiiTypes.Address, m.Index, m.Index + m.Length, 0.6);
        }
        foreach (var m in UkPostcode().EnumerateMatches(text))
        {
            if (!Overlaps(candidates, m.Index, m.Index + m.Length)) candidates.Add(text, PiiTypes.Address, m.Index, m.Index + m.Length, 0.7);
        }
    }

    private static bool HasDigitRun(string text, int length)
    {
        var run = 0;
        foreach (var c in text)
        {
            run = char.IsAsciiDigit(c) ? run + 1 : 0;
            if (run == length) return true;
        }
        return false;
    }

    private static bool MayContainAddress(string text)
    {
        foreach (var c in text)
        {
            if (char.IsAsciiDigit(c)) return true;
        }
        return text.Contains("corner of", StringComparison.OrdinalIgnoreCase);
    }

    private static bool Overlaps(List<DetectedEntity> candidates, int start, int end)
    {
        foreach (var c in candidates)
        {
            if (c.Type == PiiTypes.Address && c.StartPos < end && start < c.EndPos) return true;
        }
        return false;
    }

    private static void AddCores(string text, List<Core> cores)
    {
        if (text.AsSpan().IndexOfAny(MilitaryMarks) >= 0)
        {
            foreach (Match m in Military().Matches(text)) cores.Add(new Core(m.Index, m.Index + m.Length, -1, 0.9, true));
        }
        if (text.Contains("corner of", StringComparison.OrdinalIgnoreCase))
        {
            foreach (Match m in Corner().Matches(text)) cores.Add(new Core(m.Index, m.Index + m.Length, -1, 0.75, true));
        }
        AddStreet(SuffixStreet().Matches(text), cores, 0.7);
        AddStreet(PrefixStreet().Matches(text), cores, 0.6);
        AddStreet(MorphemeStreet().Matches(text), cores, 0.6);
        if (text.Contains("box", StringComparison.OrdinalIgnoreCase)) AddStreet(PoBox().Matches(text), cores, 0.7);
        AddStreet(NumberedStreet().Matches(text), cores, 0.55);
    }

    private static void AddStreet(MatchCollection matches, List<Core> cores, double score)
    {
        foreach (Match m in matches)
        {
            var bn = m.Groups["bn"];
            // A number before a street that has its own number is a building or PO number: a separate field.
            var buildingEnd = bn.Success ? bn.Index + bn.Length : -1;
            var s = buildingEnd >= 0 || m.Groups["hn"].Success ? score + 0.05 : score;
            cores.Add(new Core(m.Index, m.Index + m.Length, buildingEnd, s, false));
        }
    }

    /// <summary>Extends the core over following fields and adds the span(s); returns where the address ends.</summary>
    private static int Emit(string text, Core core, List<DetectedEntity> candidates)
    {
        var score = core.Score + (Context.Before(text, core.Start, 45, Cues) ? 0.2 : 0);
        var start = core.Start;
        // A flat or suite written before the street on the same line belongs to it.
        var windowStart = Math.Max(0, start - 24);
        foreach (var before in UnitBefore().EnumerateMatches(text.AsSpan(windowStart, start - windowStart)))
        {
            start = windowStart + before.Index;
            break;
        }

        var fields = new List<(int Start, int End, double Score)>();
        var end = core.End;
        var lines = 0;
        var pos = core.End;
        while (true)
        {
            var lineBreak = LineBreak().Match(text, pos);
            var onNewLine = lineBreak.Success && lineBreak.Index == pos;
            var at = onNewLine ? pos + lineBreak.Length : pos;
            var lineFields = 0;
            var lineEnd = at;
            var previousWasPostcode = false;
            while (Field().Match(text, lineEnd) is { Success: true } f && f.Index == lineEnd)
            {
                // Two number groups in a row are a phone or an account number, not a postcode.
                if (f.Groups["post"].Success && previousWasPostcode) break;
                previousWasPostcode = f.Groups["post"].Success;
                var g = f.Groups["f"];
                fields.Add((g.Index, g.Index + g.Length, f.Groups["unit"].Success ? 0.7 : 0.6));
                lineEnd = f.Index + f.Length;
                lineFields++;
            }
            if (lineFields == 0) break;
            if (onNewLine && !EndsField(text, lineEnd))
            {
                fields.RemoveRange(fields.Count - lineFields, lineFields);
                break;
            }
            if (onNewLine) lines++;
            end = lineEnd;
            pos = lineEnd;
        }
        // Drop the tail fields that were not kept (a line that ended in prose).
        fields.RemoveAll(f => f.End > end);

        var labelled = PreviousLineIsLabel(text, start);
        var block = !core.Whole && lines > 0 && StartsLine(text, start) && !labelled;
        if (!block)
        {
            candidates.Add(text, PiiTypes.Address, start, end, score);
            return end;
        }

        if (core.BuildingEnd > 0)
        {
            candidates.Add(text, PiiTypes.Address, start, core.BuildingEnd, score);
            var streetStart = core.BuildingEnd;
            while (streetStart < core.End && text[streetStart] is ' ' or '\t') streetStart++;
            candidates.Add(text, PiiTypes.Address, streetStart, core.End, score);
        }
        else
        {
            candidates.Add(text, PiiTypes.Address, start, core.End, score);
        }
        foreach (var (fs, fe, fscore) in fields) candidates.Add(text, PiiTypes.Address, fs, fe, Math.Max(fscore, score - 0.1));
        return end;
    }

    /// <summary>A field on a new line must fill the line, or be followed by the end of a sentence or by prose.</summary>
    private static bool EndsField(string text, int at)
    {
        if (at >= text.Length) return true;
        var c = text[at];
        if (c is '\n' or '\r') return true;
        if (c is '.' or '?' or '!' or ';') return at + 1 >= text.Length || char.IsWhiteSpace(text[at + 1]);
        return c == ' ' && at + 1 < text.Length && char.IsLower(text[at + 1]);
    }

    private static bool StartsLine(string text, int start)
    {
        var s = start;
        while (s > 0 && text[s - 1] is ' ' or '\t' or '>' or '?' or '*') s--;
        return s == 0 || text[s - 1] == '\n';
    }

    private static bool PreviousLineIsLabel(string text, int start)
    {
        var before = text.AsSpan(0, start).TrimEnd();
        return before.EndsWith("address:", StringComparison.OrdinalIgnoreCase) || before.EndsWith("address is", StringComparison.OrdinalIgnoreCase);
    }

    private const string Cap = @"\p{Lu}[\p{L}'’\-]*\.?";
    private const string Particle = @"(?:de|des|del|dei|della|di|da|do|dos|das|la|le|les|du|d'|von|van|der|den|z|u|na|pod|nad|of|the|on)";
    private const string NameWord = "(?:" + Cap + "|" + Particle + @"(?=[ \t]+\p{Lu})|\d{1,3}(?:st|nd|rd|th))";
    private const string NotUnit = @"(?!(?i:apt|apartment|suite|ste|unit|flat|floor|room|january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b)";
    private const string Suffix =
        "(?i:street|st|road|rd|lane|ln|avenue|ave|close|crescent|cres|mews|drive|dr|court|ct|place|pl|square|sq|terrace|" +
        "way|boulevard|blvd|parkway|pkwy|circle|cir|gardens|gdns|grove|hill|row|walk|highway|hwy|green|park|rise|vale|" +
        "parade|broadway|trail|pike|alley|plaza|loop|crossing|heights|wharf|quay|gate|yard|chase|ridge|route|turnpike|" +
        "expressway|freeway|causeway|embankment|wynd|circus|approach|avenida|end|view|meadows?|fields?)";
    private const string Unit = @"(?i:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm)\.?[ \t]*#?[ \t]*\d{1,5}[A-Za-z]?";

    // "221B Baker Street", "3536 1659 Hoog St", "42 Wallaby Way North"
    [GeneratedRegex(@"(?<![\p{L}\d])(?:(?<bn>\d{1,5})[ \t]+(?=\d))?(?<hn>\d{1,5}[A-Za-z]?(?:-\d{1,5})?),?[ \t]+" + NotUnit + "(?:" + NameWord + @"[ \t]+){1,4}?" + Suffix + @"(?![\p{L}\d])\.?(?:[ \t]+(?:North|South|East|West|N|S|E|W)\b)?")]
    private static partial Regex SuffixStreet();

    // "Via Roma 131", "31401 ul. Słowicza 10", "6556 106 Rue Ettatawer", "Rue de Piétrain 371"
    [GeneratedRegex(@"(?<![\p{L}\d])(?:(?<bn>\d{1,5})[ \t]+)?(?:\d{1,5}[ \t]+)?(?i:rue|rua|via|viale|avenida|avenue|av\.|calle|c/|piazza|plaza|praça|largo|boulevard|chemin|allée|strada|ul\.|ulica|al\.|aleja|trg|quadra|travessa|estrada|carrer|paseo|camino|corso|vicolo)(?:[ \t]+" + NotUnit + NameWord + @"){1,4}(?:[ \t]+(?<hn>\d{1,5}[A-Za-z]?\.?)(?![\p{L}\d]))?")]
    private static partial Regex PrefixStreet();

    // Street words of northern and central Europe glued to the name: "Wingertweg 126", "Rákóczi út 66."
    [GeneratedRegex(@"(?<![\p{L}\d])(?:(?<bn>\d{1,5})[ \t]+)?(?:" + Cap + @"[ \t]+){0,2}(?:\p{Lu}\p{L}*(?i:strasse|straße|str\.|gasse|weg|vej|vegen|veien|veg|vägen|gatan|gata|gade|katu|tie|kuja|polku|laan|straat|plein|steeg|dreef|gracht|kade|utca|platz|allee|ring|damm|stræti|braut|vegur|stien|bakken|brekka)|\p{Lu}[\p{L}'’\-]*[ \t]+(?i:út|útja|u\.|tee|põik|tér|körút|sor))[ \t]+(?<hn>\d{1,5}[A-Za-z]?\.?)(?![\p{L}\d])")]
    private static partial Regex MorphemeStreet();

    // Building number, street name, house number: "28245 Puruntie 82", "5366 Pivovarská 276"
    [GeneratedRegex(@"(?<![\p{L}\d\-.,:/])(?<bn>\d{1,5})[ \t]+" + NotUnit + Cap + @"(?:[ \t]+(?:" + Cap + "|" + Particle + @"|\p{Ll}{1,5}))?[ \t]+(?<hn>\d{1,5}[A-Za-z]?\.?)(?![\p{L}\d]|[.,:/\-]\d)")]
    private static partial Regex NumberedStreet();

    [GeneratedRegex(@"(?<![\p{L}\d])(?:(?<bn>\d{1,5})[ \t]+)?(?i:p\.?[ ]?o\.?[ ]?box|post[ ]?box|po[ ]box)[ \t]+(?<hn>\d{1,6})(?!\d)")]
    private static partial Regex PoBox();

    [GeneratedRegex(@"(?<![\p{L}\d])(?:(?:PSC|CMR|Unit)[ \t]+\d{3,5},?[ \t]+Box[ \t]+\d{3,5}|(?:USNS|USS|USNV|USCGC)[ \t]+\p{L}[\p{L}'’\-]*)[ \t]*\r?\n?[ \t]*(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5}(?!\d)", RegexOptions.IgnoreCase)]
    private static partial Regex Military();

    [GeneratedRegex(@"(?:\bthe[ \t]+)?\bcorner[ \t]+of[ \t]+(?<a>[^\n,?!]{3,60}?)[ \t]+and[ \t]+" + Cap + @"(?:[ \t]+(?:" + Cap + @"|\d{1,5}))*", RegexOptions.IgnoreCase)]
    private static partial Regex Corner();

    [GeneratedRegex(@"(?:" + Unit + @"),?[ \t]+$")]
    private static partial Regex UnitBefore();

    [GeneratedRegex(@"\G[ \t]*\r?\n(?:[ \t]*\r?\n)?[ \t>?*]*")]
    private static partial Regex LineBreak();

    // One field after a street: flat or suite, postcode, or place words (town, region, country; capitalised or in capitals).
    // The blanks around the comma are atomic: two adjacent [ \t]* loops split a long run of blanks
    // every possible way before failing (quadratic: 200,000 tabs after a street took a second), and
    // no field starts with a blank, so giving some back never helps.
    [GeneratedRegex(
        @"\G(?>[ \t]*),?(?>[ \t]*)(?<f>" +
        @"(?<unit>" + Unit + ")" +
        @"|(?<post>[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}|[A-Z]\d[A-Z][ ]?\d[A-Z]\d|\d{5}-\d{4}|\d{3,5}(?:[ ]\d{2}(?!\d))?|\d{2}-\d{3})(?![\p{L}\d])" +
        @"|(?<place>(?:\p{Lu}[\p{L}'’.\-]+|\(\p{L}+\))(?:[ \t]+(?:\p{Lu}[\p{L}'’.\-]*|\(\p{L}+\)|(?:de|del|la|le|u|na|am|im|an|upon|on|sur|en|di|da)(?=[ \t]+\p{Lu}))){0,4})" +
        @")(?![\p{L}\d])")]
    private static partial Regex Field();

    [GeneratedRegex(@"(?i:\b(?:zip|post)[ ]?code|\bzip|\bpostcode)(?:[ \t]+is|[ \t]*:)?[ \t]*(?<zip>\d{5}-\d{4}|\d{3,5}(?:[ -]\d{2,3})?|[A-Za-z]{1,2}\d[A-Za-z\d]?[ ]?\d[A-Za-z]{2})(?![\p{L}\d])")]
    private static partial Regex ZipWithCue();

    [GeneratedRegex(@"(?<![\p{L}\d])(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming),?[ \t]+\d{5}(?:-\d{4})?(?!\d)")]
    private static partial Regex StatePostal();

    [GeneratedRegex(@"(?<![\p{L}\d])(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?[ ]?\d[ABD-HJLNP-UW-Z]{2})(?![\p{L}\d])")]
    private static partial Regex UkPostcode();
}
