#include "check.h"
int main(void) { enter_temp_dir(); return finish("io"); }
