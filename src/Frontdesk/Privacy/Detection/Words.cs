namespace Frontdesk.Privacy.Detection;

/// <summary>A word of the input: letters and digits, with inner apostrophes and hyphens ("crohn's", "co-codamol").</summary>
internal readonly record struct Word(int Start, int End)
{
    public int Length => End - Start;
}

internal static class Words
{
    [ThreadStatic] private static List<Word>? _buffer;

    /// <summary>Splits into words, reusing a per-thread buffer: valid until the next call on the same thread.</summary>
    public static List<Word> Split(string text)
    {
        var words = _buffer ??= new List<Word>(128);
        words.Clear();
        var i = 0;
        while (i < text.Length)
        {
            if (!char.IsLetterOrDigit(text[i]))
            {
                i++;
                continue;
            }
            var start = i;
            while (i < text.Length && (char.IsLetterOrDigit(text[i]) || IsInnerJoiner(text, i))) i++;
            words.Add(new Word(start, i));
        }
        return words;
    }

    private static bool IsInnerJoiner(string text, int i) =>
        text[i] is '\'' or '’' or '-' && i + 1 < text.Length && char.IsLetterOrDigit(text[i + 1]) && i > 0 && char.IsLetterOrDigit(text[i - 1]);

    /// <summary>True when only one space separates each pair of words in [from, to], so the raw text is a lexicon key.</summary>
    public static bool SingleSpaced(string text, List<Word> words, int from, int to)
    {
        for (var k = from; k < to; k++)
        {
            if (words[k + 1].Start - words[k].End != 1 || text[words[k].End] != ' ') return false;
        }
        return true;
    }
}
