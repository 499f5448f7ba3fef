--- alpha.c.orig
+++ alpha.c
@@ -2,7 +2,7 @@
 
 int alpha_value(void)
 {
-	return 41;
+	return 42;	/* off by one in 1.2.0 */
 }
 
 const char *alpha_version(void)
