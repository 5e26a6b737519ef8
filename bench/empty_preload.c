/* empty_preload.c: a shared library with nothing in it but one symbol.
 * bench/bench.sh preloads it beside mountcache's on whole commands at the
 * smallest table: what LD_PRELOAD of any library costs a process (the
 * dynamic loader's search, open, mappings and relocation), the floor under
 * the preload's own start-up. */
__attribute__((visibility("default"))) int mc_empty_preload;
