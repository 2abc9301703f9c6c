namespace Frontdesk.Privacy.Detection;

internal static class Checksums
{
    /// <summary>Luhn over the digits of <paramref name="digits"/> (non-digits must already be removed).</summary>
    public static bool Luhn(ReadOnlySpan<char> digits)
    {
        if (digits.IsEmpty) return false;
        var sum = 0;
        var doubleIt = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var d = digits[i] - '0';
            if ((uint)d > 9) return false;
            if (doubleIt)
            {
                d *= 2;
                if (d > 9) d -= 9;
            }
            sum += d;
            doubleIt = !doubleIt;
        }
        return sum % 10 == 0;
    }

    /// <summary>NHS number check: weights 10..2 over the first nine digits, check digit is 11 - (sum mod 11); 10 is never valid.</summary>
    public static bool NhsMod11(ReadOnlySpan<char> digits)
    {
        if (digits.Length != 10) return false;
        var sum = 0;
        for (var i = 0; i < 9; i++)
        {
            var d = digits[i] - '0';
            if ((uint)d > 9) return false;
            sum += d * (10 - i);
        }
        var check = 11 - sum % 11;
        if (check == 11) check = 0;
        return check != 10 && check == digits[9] - '0';
    }

    /// <summary>Copies the ASCII digits of <paramref name="source"/> into <paramref name="destination"/>; returns the count (or -1 if it would overflow).</summary>
    public static int Digits(ReadOnlySpan<char> source, Span<char> destination)
    {
        var n = 0;
        foreach (var c in source)
        {
            if (!char.IsAsciiDigit(c)) continue;
            if (n == destination.Length) return -1;
            destination[n++] = c;
        }
        return n;
    }
}
