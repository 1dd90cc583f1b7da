using Xunit.Abstractions;
using Xunit.Sdk;

namespace Engine.Tests.Conformance;

/// <summary>
/// A theory over conformance case names whose rows the catalog skips one by one: xunit 2 has no
/// per-row skip in its data attributes, so <see cref="ConformanceTheoryDiscoverer"/> turns each
/// row the catalog rejects for <see cref="Device"/> into a skipped test case with the reason.
/// </summary>
[XunitTestCaseDiscoverer("Engine.Tests.Conformance.ConformanceTheoryDiscoverer", "Engine.Tests")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ConformanceTheoryAttribute(DeviceKind device) : TheoryAttribute
{
    public DeviceKind Device { get; } = device;
}

/// <summary>Discovers a <see cref="ConformanceTheoryAttribute"/> theory: rows the catalog skips become skipped test cases.</summary>
public sealed class ConformanceTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    protected override IEnumerable<IXunitTestCase> CreateTestCasesForDataRow(
        ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute, object[] dataRow)
    {
        var device = (DeviceKind)theoryAttribute.GetConstructorArguments().Single();
        string? reason = dataRow is [string test] ? ConformanceCatalog.Instance.SkipReason(test, device) : null;
        return reason is null
            ? base.CreateTestCasesForDataRow(discoveryOptions, testMethod, theoryAttribute, dataRow)
            : CreateTestCasesForSkippedDataRow(discoveryOptions, testMethod, theoryAttribute, dataRow, reason);
    }
}
