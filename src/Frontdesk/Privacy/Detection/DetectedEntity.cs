namespace Frontdesk.Privacy.Detection;

/// <summary>A detected span: <c>text[StartPos..EndPos] == Value</c> (EndPos exclusive).</summary>
public sealed record DetectedEntity(string Type, string Value, double Confidence, int StartPos, int EndPos)
{
    public int Length => EndPos - StartPos;
}
