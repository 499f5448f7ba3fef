--- help2man.c.orig
+++ help2man.c
@@ -2,7 +2,7 @@
 #include <stdio.h>
 #include <string.h>
 
-#define SECTION "8"
+#define SECTION "1"	/* user commands, not admin */
 
 int main(int argc, char **argv)
 {
