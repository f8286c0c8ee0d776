// A dynamically linked program (glibc or musl, built without -static): it
// runs through its PT_INTERP loader. Checks what the kernel told the
// loader in the auxiliary vector, prints a greeting and exits with the
// status given as its argument.
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

static int failures;
#define CHECK(c)                                               \
  do {                                                         \
    if (!(c)) {                                                \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);      \
      failures++;                                              \
    }                                                          \
  } while (0)

extern char _start[];

int main(int argc, char** argv) {
  unsigned long base = getauxval(AT_BASE), entry = getauxval(AT_ENTRY), phdr = getauxval(AT_PHDR);
  CHECK(base != 0);                         // the loader's own address
  CHECK(base % 4096 == 0);
  CHECK(entry == (unsigned long)_start);    // the program's entry, relocated
  CHECK(getauxval(AT_PHENT) == sizeof(ElfW(Phdr)));
  // AT_PHDR points at this program's headers: its PT_LOADs cover main.
  const ElfW(Phdr)* ph = (const ElfW(Phdr)*)phdr;
  unsigned long bias = 0;
  int found = 0;
  for (unsigned long i = 0; i < getauxval(AT_PHNUM); ++i)
    if (ph[i].p_type == PT_PHDR) bias = phdr - ph[i].p_vaddr;
  for (unsigned long i = 0; i < getauxval(AT_PHNUM); ++i)
    if (ph[i].p_type == PT_LOAD && (uintptr_t)main >= bias + ph[i].p_vaddr &&
        (uintptr_t)main < bias + ph[i].p_vaddr + ph[i].p_memsz)
      found = 1;
  CHECK(found);
  // The loader lies outside the program.
  CHECK(base < bias || base > (uintptr_t)main);
  char* s = strdup("dynamic");
  printf("hello from a %s program, %d args\n", s, argc);
  free(s);
  if (failures) return 1;
  printf("PASS dyn_hello\n");
  fflush(stdout);
  return argc > 1 ? atoi(argv[1]) : 0;
}
