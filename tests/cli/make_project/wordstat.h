#include <stddef.h>
extern const char *version;
size_t count_words(const char *s, size_t *longest);
void table_add(const char *word, size_t len);
void table_print(void);
unsigned long util_hash(const char *s, size_t n);
