// Why this exists: TorchSharp 0.107.0's libLibTorchSharp.so was built with GCC 13+, whose
// <iostream> emits a bare reference to std::ios_base_library_init() (version GLIBCXX_3.4.32)
// to mean "iostreams are initialised inside libstdc++". Nothing calls it (no relocation uses
// it), but the loader refuses the library on a libstdc++ without that version (Debian 12 stops
// at GLIBCXX_3.4.30), and TorchSharp misreports that as a missing libtorch package. There,
// iostreams are still initialised by libtorch's own objects, so an empty definition is enough.
// patch-libtorchsharp.sh makes that version need weak, drops the symbol's version and links
// this shim, so the symbol has a definition; it only does so where libstdc++ is too old.
namespace std {
void ios_base_library_init() {}
}
