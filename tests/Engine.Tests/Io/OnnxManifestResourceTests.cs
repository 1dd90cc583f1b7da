using System.Buffers.Binary;
using System.Reflection.PortableExecutable;
using Engine.Io.Onnx;

namespace Engine.Tests;

// Reading manifest resources out of .NET assembly files: the packaged model assembly, an assembly
// without resources, files that are no assembly, and the packaged assembly cut short or with a
// resource length that runs past its block.
public sealed class OnnxManifestResourceTests
{
    private const string Source = "broken.dll";

    private static InvalidDataException Refused(byte[] bytes, int length = -1)
    {
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            using var reader = new ManifestResourceReader(new MemoryStream(bytes, 0, length < 0 ? bytes.Length : length, writable: false), Source);
            foreach (string name in reader.Names)
                reader.Read(name);
        });
        Assert.StartsWith($"{Source}: ", e.Message);
        return e;
    }

    // Where the resources block of an assembly file begins (the first resource's length prefix).
    internal static long ResourcesBlockStart(byte[] assembly)
    {
        using var pe = new PEReader(new MemoryStream(assembly, writable: false));
        Assert.True(pe.PEHeaders.TryGetDirectoryOffset(pe.PEHeaders.CorHeader!.ResourcesDirectory, out int offset));
        return offset;
    }

    [Fact]
    public void Packaged_assembly_lists_its_resources_and_reads_them_by_name()
    {
        var package = OnnxPackagedModel.MiniLM;
        using var reader = ManifestResourceReader.Open(package.AssemblyPath);

        Assert.Equal(package.AssemblyPath, reader.Source);
        Assert.Contains(package.ModelResource, reader.Names);
        Assert.Contains(package.VocabResource, reader.Names);
        Assert.Equal(90893304, reader.Length(package.ModelResource));
        Assert.Equal(262030, reader.Length(package.VocabResource));
        Assert.Equal("[PAD]\r\n"u8.ToArray(), reader.Read(package.VocabResource).AsSpan(0, 7).ToArray());
        var missing = Assert.Throws<KeyNotFoundException>(() => reader.Read("model.onnx"));
        Assert.Contains(package.ModelResource, missing.Message);
    }

    [Fact]
    public void An_assembly_without_resources_has_none()
    {
        using var reader = ManifestResourceReader.Open(typeof(ManifestResourceReader).Assembly.Location);
        Assert.Empty(reader.Names);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(64)]
    [InlineData(4096)]
    public void Files_that_are_not_assemblies_are_refused(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        Refused(bytes);
        Refused("#!/bin/sh\necho not a dll\n"u8.ToArray());
    }

    [Fact]
    public void A_native_pe_file_without_metadata_is_refused()
    {
        // The smallest PE32 layout PEReader accepts: DOS header pointing at a PE header with an
        // optional header but no CLI directory.
        var bytes = new byte[512];
        bytes[0] = (byte)'M';
        bytes[1] = (byte)'Z';
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(0x3C), 0x40);
        "PE\0\0"u8.CopyTo(bytes.AsSpan(0x40));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x44), 0x14C);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x54), 0xE0);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x58), 0x10B);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(0x58 + 92), 16);
        Assert.Contains("not", Refused(bytes).Message);
    }

    [Fact]
    public void A_resource_longer_than_its_block_is_refused()
    {
        byte[] bytes = File.ReadAllBytes(OnnxPackagedModel.MiniLM.AssemblyPath);
        long prefix = ResourcesBlockStart(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan((int)prefix), 0xFFFF_FF00);
        Assert.Contains($"resource '{OnnxPackagedModel.MiniLM.ModelResource}' claims 4294967040 bytes", Refused(bytes).Message);
    }

    [Fact]
    public void Cut_short_assemblies_are_refused_or_read_whole()
    {
        byte[] bytes = File.ReadAllBytes(OnnxPackagedModel.MiniLM.AssemblyPath);
        long resourcesEnd = ResourcesBlockStart(bytes) + 4 + 90893304;
        var cuts = Enumerable.Range(0, 64).Select(i => (int)((long)bytes.Length * i / 64))
            .Concat(Enumerable.Range(0, 64).Select(i => 16 * i))
            .Concat(Enumerable.Range(1, 64).Select(i => bytes.Length - 32 * i));
        foreach (int cut in cuts)
        {
            try
            {
                using var reader = new ManifestResourceReader(new MemoryStream(bytes, 0, cut, writable: false), Source);
                Assert.True(cut >= resourcesEnd, $"a file cut at {cut} bytes, inside the resources, was accepted");
                reader.Read(OnnxPackagedModel.MiniLM.VocabResource);
            }
            catch (InvalidDataException e)
            {
                Assert.StartsWith($"{Source}: ", e.Message);
            }
        }
    }
}
