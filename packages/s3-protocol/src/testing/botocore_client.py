# Test support: drive botocore (aws-cli's own library) against a loopback capture server with the
# signature version given as the 5th argument ("s3" = SigV2, "s3v4" = SigV4), and print presigned
# URLs made with the same signer as JSON on stdout.
import json
import sys

import botocore.session
from botocore.config import Config

endpoint, akid, secret = sys.argv[1], sys.argv[2], sys.argv[3]
keys = json.loads(sys.argv[4])
signature_version = sys.argv[5]
session = botocore.session.get_session()
client = session.create_client(
    's3',
    endpoint_url=endpoint,
    region_name='us-east-1',
    aws_access_key_id=akid,
    aws_secret_access_key=secret,
    config=Config(signature_version=signature_version, s3={'addressing_style': 'path'}, retries={'max_attempts': 1}),
)

def attempt(fn):
    try:
        fn()
    except Exception:
        pass

for key in keys:
    attempt(lambda: client.put_object(Bucket='bkt', Key=key, Body=b'v2 body', ContentType='text/plain',
                                      Metadata={'color': 'blue', 'list': 'a, b,c'}))
    attempt(lambda: client.get_object(Bucket='bkt', Key=key, ResponseContentType='text/csv'))
attempt(lambda: client.list_objects(Bucket='bkt', Prefix='a b', Delimiter='/'))
attempt(lambda: client.create_multipart_upload(Bucket='bkt', Key='mp'))
attempt(lambda: client.upload_part(Bucket='bkt', Key='mp', UploadId='u/1+2', PartNumber=3, Body=b'p'))
attempt(lambda: client.get_object_acl(Bucket='bkt', Key='k'))
attempt(lambda: client.delete_objects(Bucket='bkt', Delete={'Objects': [{'Key': 'a b'}, {'Key': 'c+d'}]}))
attempt(lambda: client.put_object_tagging(Bucket='bkt', Key='k', Tagging={'TagSet': [{'Key': 't', 'Value': 'v'}]}))

urls = []
for key in keys:
    urls.append(client.generate_presigned_url('get_object', Params={'Bucket': 'bkt', 'Key': key}, ExpiresIn=600))
urls.append(client.generate_presigned_url('get_object', Params={
    'Bucket': 'bkt', 'Key': 'k', 'ResponseContentDisposition': 'attachment; filename="a b.txt"'}, ExpiresIn=600))
urls.append(client.generate_presigned_url('put_object', Params={'Bucket': 'bkt', 'Key': 'up'}, ExpiresIn=600))
print(json.dumps(urls))
