package custos.spark;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.KmsClient;

/**
 * A Parquet KmsClient for custos's keyring: the key tools of Parquet modular encryption
 * (PropertiesDrivenCryptoFactory) ask it to unwrap the data key in each file's footer.
 *
 * <p>Master keys come from the Hadoop property {@code custos.kms.secret.keys}
 * ({@code id:base64key,...}), which custos's driver sets on each read from its keyring (the
 * property's name matches Spark's redaction pattern, so it shows in no UI or event log). A wrapped
 * key is base64(nonce[12] | AES-256-GCM(master, nonce, key, aad = master key id)), as
 * custos.spark.kms writes it (Python). Production replaces this class by the insurer's KMS client
 * (parquet.encryption.kms.client.class): then master keys never leave the KMS.
 */
public class KeyringKmsClient implements KmsClient {
  public static final String KEYS = "custos.kms.secret.keys";
  private final Map<String, byte[]> masterKeys = new HashMap<>();

  @Override
  public void initialize(Configuration conf, String kmsInstanceID, String kmsInstanceURL, String accessToken) {
    String list = conf.getTrimmed(KEYS, "");
    for (String entry : list.split(",")) {
      int at = entry.indexOf(':');
      if (at > 0) {
        masterKeys.put(entry.substring(0, at).trim(), Base64.getDecoder().decode(entry.substring(at + 1).trim()));
      }
    }
  }

  private byte[] master(String id) {
    byte[] key = masterKeys.get(id);
    if (key == null) {
      throw new KeyAccessDeniedException("custos keyring: no master key " + id + " (set " + KEYS + ")");
    }
    return key;
  }

  @Override
  public String wrapKey(byte[] keyBytes, String masterKeyIdentifier) throws KeyAccessDeniedException {
    try {
      byte[] nonce = new byte[12];
      new java.security.SecureRandom().nextBytes(nonce);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(master(masterKeyIdentifier), "AES"), new GCMParameterSpec(128, nonce));
      c.updateAAD(masterKeyIdentifier.getBytes(StandardCharsets.UTF_8));
      byte[] ct = c.doFinal(keyBytes);
      return Base64.getEncoder().encodeToString(ByteBuffer.allocate(12 + ct.length).put(nonce).put(ct).array());
    } catch (KeyAccessDeniedException e) {
      throw e;
    } catch (Exception e) {
      throw new KeyAccessDeniedException("custos keyring: cannot wrap with " + masterKeyIdentifier, e);
    }
  }

  @Override
  public byte[] unwrapKey(String wrappedKey, String masterKeyIdentifier) throws KeyAccessDeniedException {
    try {
      byte[] all = Base64.getDecoder().decode(wrappedKey);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(master(masterKeyIdentifier), "AES"), new GCMParameterSpec(128, all, 0, 12));
      c.updateAAD(masterKeyIdentifier.getBytes(StandardCharsets.UTF_8));
      return c.doFinal(all, 12, all.length - 12);
    } catch (KeyAccessDeniedException e) {
      throw e;
    } catch (Exception e) {
      throw new KeyAccessDeniedException("custos keyring: cannot unwrap with " + masterKeyIdentifier, e);
    }
  }
}
